"""docs/reference/api.md is the server's OpenAPI description, rendered: never out of date."""

from __future__ import annotations

from pathlib import Path

from keel.config import Settings
from keel.server import create_app
from keel.server._access import ROUTE_ROLES
from keel.server.reference import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "reference" / "api.md"


def test_the_api_reference_is_current(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path))
    expected = render(app.openapi(), ROUTE_ROLES)
    assert DOC.read_text() == expected, (
        "docs/reference/api.md is stale: python -m keel.server.reference > docs/reference/api.md"
    )
    for path in ("/api/v1/projects/{project}/runs/{run_id}/batch", "/api/v1/tokens"):
        assert f"`{path}`" in expected
