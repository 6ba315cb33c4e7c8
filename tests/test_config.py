"""Settings from defaults, KEEL_* variables and keel.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.config import Settings, load_settings
from keel.errors import ConfigError


def test_defaults_live_under_dot_keel(keel_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEEL_HOME")
    s = load_settings()
    assert s.resolved_store_uri() == f"sqlite:///{Path.cwd() / '.keel' / 'keel.db'}"
    assert s.resolved_artifact_root() == str(Path.cwd() / ".keel" / "artifacts")


def test_environment_wins_over_toml(monkeypatch: pytest.MonkeyPatch) -> None:
    Path("keel.toml").write_text(
        'store_uri = "sqlite:////tmp/from-toml.db"\nmetric_flush_size = 7\n'
    )
    assert load_settings().resolved_store_uri() == "sqlite:////tmp/from-toml.db"
    assert load_settings().metric_flush_size == 7
    monkeypatch.setenv("KEEL_STORE_URI", "postgresql://postgres@127.0.0.1:5432/test")
    assert (
        load_settings().resolved_store_uri() == "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )


def test_unknown_toml_key_is_an_error() -> None:
    Path("keel.toml").write_text('stor_uri = "sqlite:///x.db"\n')
    with pytest.raises(ConfigError, match="stor_uri"):
        load_settings()


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("KEEL_STORE_URI", "mysql://x", "unknown scheme"),
        ("KEEL_METRIC_FLUSH_INTERVAL", "-1", "metric_flush_interval"),
        ("KEEL_SQLITE_SYNCHRONOUS", "SOMETIMES", "sqlite_synchronous"),
    ],
)
def test_bad_values_are_config_errors(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, message: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_config_file_named_by_keel_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "elsewhere.toml"
    cfg.write_text('actor = "ana"\n')
    monkeypatch.setenv("KEEL_CONFIG", str(cfg))
    assert load_settings().resolved_actor() == "ana"


def test_invalid_toml_is_a_config_error() -> None:
    Path("keel.toml").write_text('store_uri = "sqlite:///x.db\n')  # unterminated string
    with pytest.raises(ConfigError, match=r"keel.toml is not valid TOML \(.*line 1"):
        load_settings()


def test_variables_match_case_insensitively_and_unknown_ones_are_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("keel_metric_flush_size", "12")
    monkeypatch.setenv("KEEL_EXPERIMENT", "not-a-setting")
    monkeypatch.setenv("KEEL_DEBUG", "1")
    assert load_settings().metric_flush_size == 12


def test_arguments_win_over_variables_and_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    Path("keel.toml").write_text('actor = "from-toml"\nmetric_flush_size = 7\n')
    monkeypatch.setenv("KEEL_ACTOR", "from-env")
    s = Settings(actor="from-argument")
    assert (s.actor, s.metric_flush_size) == ("from-argument", 7)
    assert Settings().actor == "from-env"


def test_project_and_token_come_from_keel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (load_settings().project, load_settings().token) == ("default", None)
    monkeypatch.setenv("KEEL_PROJECT", "fraud")
    monkeypatch.setenv("KEEL_TOKEN", "keel_0123456789ab_c2VjcmV0LXRva2Vu")
    s = load_settings()
    assert (s.project, s.token) == ("fraud", "keel_0123456789ab_c2VjcmV0LXRva2Vu")
    assert "c2VjcmV0" not in repr(s) and "c2VjcmV0" not in str(s)


@pytest.mark.parametrize("project", ["Fraud", "-x", "a b", "", "x" * 64, "_system"])
def test_an_invalid_project_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, project: str
) -> None:
    monkeypatch.setenv("KEEL_PROJECT", project)
    with pytest.raises(ConfigError, match="project"):
        load_settings()


def test_a_token_with_whitespace_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KEEL_TOKEN", "keel_0123456789ab_abc def")
    with pytest.raises(ConfigError, match="token") as info:
        load_settings()
    assert "abc def" not in str(info.value)


@pytest.mark.parametrize("uri", ["http://127.0.0.1:8080", "https://keel.example/"])
def test_a_keel_server_url_is_a_store_uri(uri: str) -> None:
    assert Settings(store_uri=uri).resolved_store_uri() == uri
