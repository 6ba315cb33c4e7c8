"""keel's own warnings on the command line: one line on stderr, ``warning: <message>``.

Python's default display names the file and line that warned and repeats the source
line; for a CLI user that is noise around the one sentence that matters (which form is
deprecated and what to write instead). Warnings from other libraries keep Python's
display.
"""

from __future__ import annotations

import sys
import warnings
from typing import TextIO

__all__ = ["show_keel_warnings_on_one_line"]


def show_keel_warnings_on_one_line() -> None:
    """Route :class:`~keel.errors.KeelDeprecationWarning` to one ``warning:`` line on stderr.

    Called once by the ``keel`` console script before it runs a command.
    """
    from keel.errors import KeelDeprecationWarning

    original = warnings.showwarning

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if issubclass(category, KeelDeprecationWarning):
            print(f"warning: {message}", file=file or sys.stderr)
            return
        original(message, category, filename, lineno, file, line)

    warnings.showwarning = show
