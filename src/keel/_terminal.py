"""What keel prints on stderr around long work: whether to show it, and the end-of-run line.

One switch decides, in this order: the call's own argument (``progress=`` of
``keel.train``, ``silent=`` of ``keel.sklearn.autolog``), then the ``progress`` setting
(``KEEL_PROGRESS``), then the default: a live progress line only when stderr is a
terminal, and one line naming the run when a run keel started ends.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

__all__ = ["TerminalOutput", "announce_run_end", "terminal_output"]


@dataclass(frozen=True)
class TerminalOutput:
    """What to print on stderr.

    Attributes:
        live: show a live progress line.
        announce: print one line when a run keel started ends.
    """

    live: bool
    announce: bool


def terminal_output(choice: bool | None, setting: bool | None) -> TerminalOutput:
    """Resolve the call's choice and the ``progress`` setting into what to print.

    Args:
        choice: ``True`` (show), ``False`` (quiet) or ``None`` (follow the setting).
        setting: the ``progress`` setting (``KEEL_PROGRESS``); ``None`` is automatic.

    Example::

        >>> terminal_output(False, None)
        TerminalOutput(live=False, announce=False)
    """
    resolved = choice if choice is not None else setting
    if resolved is False:
        return TerminalOutput(live=False, announce=False)
    if resolved is True:
        return TerminalOutput(live=True, announce=True)
    return TerminalOutput(live=_stderr_is_terminal(), announce=True)


def _stderr_is_terminal() -> bool:
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def announce_run_end(client: Any, run_id: str) -> None:
    """Print ``keel: run ID 'NAME' (experiment 'E') ended: STATUS`` on stderr.

    What MLflow users look for when a run ends: which run it was and where it lives
    (``keel runs show ID`` takes it from there).
    """
    from keel.errors import KeelError

    try:
        run = client.get_run(run_id)
        experiment = client.store.tracking.get_experiment(run.experiment_id).name
    except KeelError:  # the store went away: still say which run it was
        print(f"keel: run {run_id} ended", file=sys.stderr, flush=True)
        return
    print(
        f"keel: run {run.id} {run.name!r} (experiment {experiment!r}) ended: {run.status.value}",
        file=sys.stderr,
        flush=True,
    )
