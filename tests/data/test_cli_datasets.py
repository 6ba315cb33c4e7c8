"""``keel datasets ...`` through the real console script, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path


def test_register_list_show_head_validate_diff_split(tmp_path: Path, datasets_cli) -> None:
    keel_cli = datasets_cli
    data = tmp_path / "flowers.csv"
    rows = ["petal,species"] + [f"{1 + i / 10},{'ab'[i % 2]}" for i in range(40)]
    data.write_text("\n".join(rows) + "\n")
    spec = tmp_path / "expect.yaml"
    spec.write_text("columns:\n  petal: {max: 4}\n  species: {allowed: [a]}\n")

    out = keel_cli("register", str(data), "--name", "flowers", "--quiet")
    assert out.returncode == 0, out.stderr
    assert "registered flowers/1: 40 rows x 2 columns" in out.stdout

    bad = keel_cli("register", str(data), "--name", "strict", "-e", str(spec), "-q")
    assert bad.returncode == 1
    assert "fails its expectations, so nothing was registered" in bad.stderr
    assert "allowed(['a'])" in bad.stdout  # the report table

    forced = keel_cli(
        "register", str(data), "--name", "strict", "-e", str(spec), "--allow-invalid", "-q"
    )
    assert forced.returncode == 0 and "INVALID" in forced.stdout

    listing = keel_cli("list")
    assert "flowers" in listing.stdout and "strict" in listing.stdout

    show = keel_cli("show", "strict/1")
    assert show.returncode == 0
    for text in ("INVALID", "petal", "numeric", "species", "categorical", "validation", "FAIL"):
        assert text in show.stdout, text
    as_json = json.loads(keel_cli("show", "flowers", "--json").stdout)
    assert as_json["num_rows"] == 40 and as_json["schema"]["columns"][0]["name"] == "petal"

    head = keel_cli("head", "flowers", "-n", "3")
    assert "first 3 of 40 rows" in head.stdout

    check = keel_cli("validate", "flowers", "--expectations", str(spec))
    assert check.returncode == 1 and "fails 2 of 2 checks" in check.stderr

    split = keel_cli("split", "flowers", "-f", "train=0.75", "-f", "test=0.25", "--seed", "1")
    assert split.returncode == 0, split.stderr
    assert "flowers-train/1 30 rows" in split.stdout

    data.write_text("\n".join([*rows, "9.9,c"]) + "\n")
    assert keel_cli("register", str(data), "--name", "flowers", "-q").returncode == 0
    diff = keel_cli("diff", "flowers/1", "flowers/2")
    assert "rows 40 -> 41" in diff.stdout and "top_values_distance" in diff.stdout

    missing = keel_cli("show", "flowers/9")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: dataset 'flowers' has no version 9; versions are 1-2"
