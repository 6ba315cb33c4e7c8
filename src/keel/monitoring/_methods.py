"""The drift tests by name, their default thresholds, and the rules that pick one.

The rules are Evidently's (``evidently.legacy.calculations.stattests.registry.
_get_default_stattest``), so that a column gets the same test and threshold in both:

========================  ===========================  ===============================
reference rows (non-null) numeric column               categorical column
========================  ===========================  ===============================
at most 1,000             ``ks`` (p <= 0.05); with at  ``chisquare`` (p < 0.05); ``z``
                          most 5 distinct values (both  (p < 0.05) for at most two
                          sides): ``chisquare``, or     distinct values
                          ``z`` for at most two
more than 1,000           ``wasserstein`` normed by    ``jensenshannon`` (>= 0.1)
                          the reference's std (>= 0.1);
                          at most 5 distinct values:
                          ``jensenshannon``
========================  ===========================  ===============================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from keel.monitoring._columns import CATEGORICAL, NUMERIC
from keel.monitoring._errors import DriftInputError

__all__ = ["TESTS", "DriftTest", "TestSpec", "default_test", "resolve_tests"]

# Evidently: at most this many reference rows selects the hypothesis tests.
SMALL_REFERENCE_ROWS = 1000
# ... and a numeric column with at most this many distinct values is tested as categories.
FEW_VALUES = 5


@dataclass(frozen=True)
class TestSpec:
    """What a test is.

    Attributes:
        name: the name ``tests=`` accepts.
        title: how reports name it.
        threshold: the default threshold.
        p_value: the score is a p-value (drift when below); else a distance (drift when
            at or above).
        inclusive: a p-value equal to the threshold counts as drift (Evidently's KS does,
            its chi-squared and Z tests do not).
        kinds: the column kinds it applies to.
    """

    __test__ = False  # not a pytest class

    name: str
    title: str
    threshold: float
    p_value: bool
    inclusive: bool
    kinds: frozenset[str]

    def drifted(self, score: float, threshold: float) -> bool:
        if score != score:  # NaN: nothing to conclude
            return False
        if self.p_value:
            return score <= threshold if self.inclusive else score < threshold
        return score >= threshold


_BOTH = frozenset({NUMERIC, CATEGORICAL})
TESTS: dict[str, TestSpec] = {
    spec.name: spec
    for spec in (
        TestSpec("ks", "K-S p-value", 0.05, True, True, frozenset({NUMERIC})),
        TestSpec(
            "wasserstein", "Wasserstein distance (normed)", 0.1, False, True, frozenset({NUMERIC})
        ),
        TestSpec("jensenshannon", "Jensen-Shannon distance", 0.1, False, True, _BOTH),
        TestSpec("psi", "PSI", 0.1, False, True, _BOTH),
        TestSpec("chisquare", "chi-square p-value", 0.05, True, False, _BOTH),
        TestSpec("z", "Z-test p-value", 0.05, True, False, _BOTH),
        TestSpec("chi2_contingency", "chi-square contingency p-value", 0.05, True, False, _BOTH),
    )
}
_ALIASES = {"js": "jensenshannon", "wasserstein_norm": "wasserstein", "chi2": "chi2_contingency"}
# PSI's customary bands: below 0.1 no significant change, 0.1-0.25 moderate, above major.
PSI_BANDS = (0.1, 0.25)


@dataclass(frozen=True)
class DriftTest:
    """A test for one column, with an optional threshold (the test's default otherwise).

    Args:
        name: ``ks``, ``wasserstein``, ``jensenshannon`` (``js``), ``psi``,
            ``chisquare``, ``z`` or ``chi2_contingency`` (``chi2``).
        threshold: p-value below which (tests) or distance from which (distances) the
            column counts as drifted.

    Example::

        >>> drift(ref, cur, tests={"income": DriftTest("psi", threshold=0.25)})
    """

    __test__ = False

    name: str
    threshold: float | None = None

    def __post_init__(self) -> None:
        name = _ALIASES.get(self.name, self.name) if isinstance(self.name, str) else self.name
        if name not in TESTS:
            raise DriftInputError(
                f"unknown drift test {self.name!r}; choose one of {sorted(TESTS)} "
                f"(aliases: {sorted(_ALIASES)})"
            )
        object.__setattr__(self, "name", name)
        t = self.threshold
        if t is not None and (
            isinstance(t, bool) or not isinstance(t, (int, float)) or t != t or t < 0
        ):
            raise DriftInputError(
                f"threshold of test {name!r} must be a number >= 0; got {self.threshold!r}"
            )
        if t is not None:
            object.__setattr__(self, "threshold", float(t))

    @property
    def spec(self) -> TestSpec:
        return TESTS[self.name]

    @property
    def resolved_threshold(self) -> float:
        return self.spec.threshold if self.threshold is None else float(self.threshold)


def default_test(kind: str, reference_rows: int, distinct_values: int | None) -> DriftTest:
    """Evidently's choice for a column of this kind (see the module's table).

    Args:
        kind: ``numeric`` or ``categorical``.
        reference_rows: the reference's non-null (finite) values.
        distinct_values: distinct values of reference and current together (``None``:
            more than the sketch holds, i.e. many).
    """
    few = distinct_values is not None and distinct_values <= FEW_VALUES
    two = distinct_values is not None and distinct_values <= 2
    if reference_rows <= SMALL_REFERENCE_ROWS:
        if kind == NUMERIC and not few:
            return DriftTest("ks")
        return DriftTest("z" if two else "chisquare")
    if kind == NUMERIC and not few:
        return DriftTest("wasserstein")
    return DriftTest("jensenshannon")


def resolve_tests(tests: Any) -> tuple[DriftTest | None, dict[str, DriftTest]]:
    """``tests=`` as (one test for every column or None, per-column tests).

    Accepts ``None``, a test name or :class:`DriftTest` for all columns, or a mapping of
    column to name or :class:`DriftTest` (the key ``"*"`` sets all other columns).

    Raises:
        DriftInputError: an unknown test name, a bad threshold or a bad shape.
    """
    if tests is None:
        return None, {}
    if isinstance(tests, (str, DriftTest)):
        return _one(tests, "tests"), {}
    if isinstance(tests, Mapping):
        every = None
        per_column: dict[str, DriftTest] = {}
        for column, test in tests.items():
            if not isinstance(column, str):
                raise DriftInputError(f"tests keys are column names; got {column!r}")
            parsed = _one(test, f"tests[{column!r}]")
            if column == "*":
                every = parsed
            else:
                per_column[column] = parsed
        return every, per_column
    raise DriftInputError(
        "tests must be a test name, a DriftTest or a mapping of column to test; "
        f"got {type(tests).__name__}"
    )


def _one(test: Any, where: str) -> DriftTest:
    if isinstance(test, DriftTest):
        return test
    if isinstance(test, str):
        return DriftTest(test)
    raise DriftInputError(f"{where} must be a test name or a DriftTest; got {test!r}")
