"""Passwords out of URIs and out of text that quotes them (keel._redact)."""

from __future__ import annotations

import pytest

from keel._redact import redact, safe_uri


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("postgresql://ana:s3cret@db:5432/keel", "postgresql://ana:***@db:5432/keel"),
        ("postgresql+psycopg://ana:p%40ss@db/keel", "postgresql+psycopg://ana:***@db/keel"),
        ("postgresql://ana:a@b@db/keel", "postgresql://ana:***@db/keel"),  # '@' in it
        (
            "postgresql://ana@db/keel?password=x&sslmode=require",
            "postgresql://ana@db/keel?password=***&sslmode=require",
        ),
        (
            "postgresql://ana@db/keel?sslmode=require&PASSWORD=x",
            "postgresql://ana@db/keel?sslmode=require&PASSWORD=***",
        ),
        ("s3://key:secret@bucket/keel", "s3://key:***@bucket/keel"),
        ("sqlite:////tmp/keel.db", "sqlite:////tmp/keel.db"),
        ("postgresql://ana@db:5432/keel", "postgresql://ana@db:5432/keel"),
        ("/home/ana/.keel/artifacts", "/home/ana/.keel/artifacts"),
        (
            "postgresql://db/keel?options=-csearch_path%3Dx",
            "postgresql://db/keel?options=-csearch_path%3Dx",
        ),
    ],
)
def test_safe_uri_masks_every_password(uri: str, shown: str) -> None:
    assert safe_uri(uri) == shown


def test_redact_masks_the_password_wherever_the_text_quotes_it() -> None:
    uri = "postgresql://ana:p%40ss@db/keel?password=other"
    text = f"could not connect to {uri}: auth failed for 'p@ss' and p%40ss, other"
    out = redact(text, uri)
    assert "p@ss" not in out and "p%40ss" not in out and "other" not in out
    assert "postgresql://ana:***@db/keel?password=***" in out


def test_redact_leaves_text_alone_when_the_uri_has_no_secret() -> None:
    assert redact("nothing to hide here", "sqlite:////tmp/k.db") == "nothing to hide here"
