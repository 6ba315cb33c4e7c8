"""Steps, code hashes, DAG construction and param validation (no runs)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

import keel
import keel.compute
import keel.pipelines
from keel.errors import InvalidArgumentError
from keel.pipelines import Pipeline, code_hash, step
from keel.pipelines._params import parse_param_args, resolve_params


def test_the_public_surface_is_pinned() -> None:
    # The exact sets: a name removed, renamed or leaked from a private module fails here.
    assert set(keel.pipelines.__all__) == {
        "Dependency", "ParamSpec", "Pipeline", "PipelineFailedError", "SourceFile", "Step",
        "StepEvent", "StepOutputError", "code_hash", "load_output", "load_pipeline", "step",
    }  # fmt: skip
    assert set(keel.compute.__all__) == {
        "Executor", "LocalProcessExecutor", "SequentialExecutor", "executor_for",
    }  # fmt: skip
    for module in (keel.pipelines, keel.compute):
        for name in set(module.__all__) - {"SourceFile"}:  # SourceFile: Annotated[Path, ...]
            assert getattr(module, name).__module__.startswith(module.__name__), name
    # keel.step and keel.Pipeline are the pipelines' own (test_pipeline_run runs DAGs
    # built with them: tests/pipelines/keel_test_pipeline_steps.py)
    assert keel.step is step and keel.Pipeline is Pipeline


def test_a_step_is_still_the_plain_function() -> None:
    @step(retries=1, outputs=("a", "b"))
    def pair(x: int) -> tuple[int, int]:
        """Docs."""
        return x, x + 1

    assert pair(1) == (1, 2)
    assert pair.name == "pair" and pair.retries == 1 and pair.outputs == ("a", "b")
    assert pair.__doc__ == "Docs." and pair.__name__ == "pair"
    assert step(name="other")(pair.function).name == "other"


def test_code_hash_ignores_comments_docstrings_and_formatting_only() -> None:
    def a(x):  # type: ignore[no-untyped-def]
        return x + 1

    def b(x):  # type: ignore[no-untyped-def]
        """A docstring."""
        # a comment
        return x + 1

    def c(x):  # type: ignore[no-untyped-def]
        return x + 2

    assert code_hash(a) == code_hash(b)
    assert code_hash(a) != code_hash(c)


def test_steps_pickle_by_reference() -> None:
    restored = pickle.loads(pickle.dumps(keel_steps().numbers))
    assert restored is keel_steps().numbers


def keel_steps() -> Any:
    import importlib
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    try:
        return importlib.import_module("keel_test_pipeline_steps")
    finally:
        sys.path.remove(str(Path(__file__).parent))


def test_bad_steps_are_refused() -> None:
    def f(a: int = 1) -> int:
        return a

    def star(*args: int) -> int:
        return 1

    with pytest.raises(InvalidArgumentError, match="plain functions"):
        step(print)
    with pytest.raises(InvalidArgumentError, match="retries"):
        step(retries=-1)(f)
    with pytest.raises(InvalidArgumentError, match="step name 'a b'"):
        step(name="a b")(f)
    with pytest.raises(InvalidArgumentError, match="named parameters only"):
        step(star)
    with pytest.raises(InvalidArgumentError, match="does not have"):
        step(inputs={"nope": "x"})(f)
    with pytest.raises(InvalidArgumentError, match="outputs must be distinct"):
        step(outputs=("a", "a"))(f)


def _dag_steps() -> dict[str, Any]:
    @step
    def raw() -> int:
        return 1

    @step(outputs=("train", "test"))
    def split(raw: int) -> tuple[int, int]:
        return raw, raw

    @step(inputs={"data": "split.train"})
    def fit(data: int, split: dict[str, int], alpha: float = 0.1) -> float:
        return alpha

    return {"raw": raw, "split": split, "fit": fit}


def test_dag_from_names_and_explicit_wiring() -> None:
    s = _dag_steps()
    pipe = Pipeline("demo", [s["fit"], s["split"], s["raw"]])
    assert pipe.dag == {"raw": (), "split": ("raw",), "fit": ("split",)}
    assert [d.output for d in pipe.dependencies("fit")] == ["train", None]
    specs = pipe.param_specs()
    assert [(p.step, p.name, p.annotation, p.default) for p in specs] == [
        ("fit", "alpha", float, 0.1)
    ]


def test_bad_dags_are_refused() -> None:
    s = _dag_steps()
    with pytest.raises(InvalidArgumentError, match="no other step 'split'"):
        Pipeline("demo", [s["fit"], s["raw"]])
    with pytest.raises(InvalidArgumentError, match="two steps named 'raw'"):
        Pipeline("demo", [s["raw"], s["raw"]])
    with pytest.raises(InvalidArgumentError, match="pipeline name"):
        Pipeline("bad name", [s["raw"]])
    with pytest.raises(InvalidArgumentError, match="not a step"):
        Pipeline("demo", [lambda: 1])  # type: ignore[list-item]

    @step(inputs={"x": "split.nope"})
    def bad(x: int) -> int:
        return x

    with pytest.raises(InvalidArgumentError, match="has no output 'nope'; it has: train, test"):
        Pipeline("demo", [s["raw"], s["split"], bad])

    @step
    def ping(pong: int) -> int:
        return pong

    @step
    def pong(ping: int) -> int:
        return ping

    with pytest.raises(InvalidArgumentError, match="cycle"):
        Pipeline("demo", [ping, pong])


def test_params_are_coerced_and_qualified_names_win(tmp_path: Path) -> None:
    @step
    def a(n: int = 1, flag: bool = False, cols: list[str] | None = None, ratio=0.5) -> int:  # type: ignore[no-untyped-def]
        return n

    @step
    def b(a: int, n: int = 2) -> int:
        return n

    pipe = Pipeline("p", [a, b])
    given = parse_param_args(["n=5", "b.n=7", "flag=yes", 'cols=["x","y"]', "ratio=0.25"])
    resolved = resolve_params(pipe.param_specs(), given, ["a", "b"])
    assert resolved.values["a"] == {"n": 5, "flag": True, "cols": ["x", "y"], "ratio": 0.25}
    assert resolved.values["b"] == {"n": 7}
    assert resolved.json["a"]["cols"] == ["x", "y"]
    with pytest.raises(InvalidArgumentError, match=r"got 'maybe'.*true or false"):
        resolve_params(pipe.param_specs(), {"flag": "maybe"}, ["a", "b"])
    with pytest.raises(InvalidArgumentError, match="is given twice"):
        parse_param_args(["n=1", "n=2"])
