"""Validation of artifact names: relative POSIX paths that stay inside their run."""

from __future__ import annotations

from keel.errors import InvalidPathError

__all__ = ["check_artifact_path"]

_MAX_LEN = 1024
_EXAMPLE = "use a relative path with '/' separators, like 'plots/roc.png'"


def check_artifact_path(name: str) -> str:
    """Return ``name`` if it is a safe artifact name, else raise.

    A safe name is relative, uses ``/`` as separator, and has no empty, ``.`` or
    ``..`` segment, no backslash, no NUL byte and no drive letter.

    Raises:
        InvalidPathError: with the reason and an example of a good name.
    """
    if not isinstance(name, str):
        raise InvalidPathError(
            f"artifact name must be a string, got {type(name).__name__}; {_EXAMPLE}"
        )
    if not name:
        raise InvalidPathError(f"artifact name is empty; {_EXAMPLE}")
    if "\x00" in name:
        raise InvalidPathError(f"artifact name {name!r} contains a NUL byte; {_EXAMPLE}")
    if "\\" in name:
        raise InvalidPathError(f"artifact name {name!r} contains a backslash; {_EXAMPLE}")
    if len(name) > _MAX_LEN:
        raise InvalidPathError(f"artifact name is {len(name)} characters; the limit is {_MAX_LEN}")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise InvalidPathError(f"artifact name {name!r} is an absolute path; {_EXAMPLE}")
    for segment in name.split("/"):
        if segment == "":
            raise InvalidPathError(
                f"artifact name {name!r} has an empty segment ('//' or a trailing '/'); {_EXAMPLE}"
            )
        if segment in (".", ".."):
            raise InvalidPathError(
                f"artifact name {name!r} contains a {segment!r} segment; {_EXAMPLE}"
            )
        if any(ord(c) < 32 for c in segment):
            raise InvalidPathError(
                f"artifact name {name!r} contains a control character; {_EXAMPLE}"
            )
    return name
