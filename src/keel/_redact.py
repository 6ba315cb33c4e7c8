"""Secrets out of what keel prints, logs, raises and audits.

A store URI can carry a password (``postgresql://user:secret@host/db``, or libpq's
``?password=secret``). Everything that shows a URI to a person shows
:func:`safe_uri` of it; text that may quote a URI (a driver's error message) goes
through :func:`redact` first. An API token (``KEEL_TOKEN``) is shown only as
:func:`safe_token` of it, and :func:`redact_token` takes it out of any text. Stdlib only,
so every layer can use it cheaply.
"""

from __future__ import annotations

import re
import urllib.parse

__all__ = ["redact", "redact_token", "safe_token", "safe_uri"]

_MASK = "***"
# Query parameters that carry a credential (libpq's password, a token, a key).
_SECRET_PARAMS = re.compile(
    r"(?i)((?:password|passwd|pwd|secret|token|access_key|secret_key)=)[^&\s]+"
)
_MASKED = rf"\g<1>{_MASK}"
# keel's token format: keel_<12 hex: the token id, not secret>_<the secret>
_TOKEN = re.compile(r"^(keel_[0-9a-f]{12})_\S+$")


def safe_uri(uri: str) -> str:
    """The URI with any password replaced by ``***``.

    Both places a URI keeps one are masked: the user-info part
    (``user:secret@host``) and secret-looking query parameters (``?password=...``).
    Anything that is not a URL (a local path) comes back unchanged.

    Example::

        >>> safe_uri("postgresql://ana:s3cret@db:5432/keel?password=x&sslmode=require")
        'postgresql://ana:***@db:5432/keel?password=***&sslmode=require'
    """
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return _SECRET_PARAMS.sub(_MASKED, uri)
    netloc_end = len(rest)
    for stop in "/?#":
        found = rest.find(stop)
        if found != -1:
            netloc_end = min(netloc_end, found)
    netloc, tail = rest[:netloc_end], rest[netloc_end:]
    userinfo, at, host = netloc.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{_MASK}@{host}"
    return f"{scheme}://{netloc}{_SECRET_PARAMS.sub(_MASKED, tail)}"


def redact(text: str, uri: str) -> str:
    """``text`` with every secret of ``uri`` (its password, raw or URL-encoded) masked.

    For messages that may quote the URI or its parts, such as a database driver's
    connection error.
    """
    secrets: set[str] = set()
    _, sep, rest = uri.partition("://")
    if sep:
        netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
        userinfo = netloc.rpartition("@")[0]
        if ":" in userinfo:
            secrets.add(userinfo.split(":", 1)[1])
    for match in _SECRET_PARAMS.finditer(uri):
        secrets.add(match.group(0).split("=", 1)[1])
    out = text.replace(uri, safe_uri(uri))
    for secret in sorted(secrets, key=len, reverse=True):
        if not secret:
            continue
        for form in {secret, urllib.parse.unquote(secret)}:
            out = out.replace(form, _MASK)
    return out


def safe_token(token: str | None) -> str:
    """How a token may be shown: ``keel_<id>_***`` for keel's tokens, ``***`` for others.

    The id part names the token (``keel tokens list`` shows it) and is not secret.

    Example::

        >>> safe_token("keel_0123456789ab_c2VjcmV0")
        'keel_0123456789ab_***'
        >>> safe_token(None)
        'not set'
    """
    if not token:
        return "not set"
    match = _TOKEN.match(token)
    return f"{match.group(1)}_{_MASK}" if match else _MASK


def redact_token(text: str, token: str | None) -> str:
    """``text`` with the token (raw or URL-encoded) replaced by :func:`safe_token` of it."""
    if not token:
        return text
    shown = safe_token(token)
    for form in {token, urllib.parse.quote(token, safe="")}:
        text = text.replace(form, shown)
    return text
