"""The drift statistics agree with scipy's own functions on random data, to 1e-9."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from keel.monitoring import _stats
from keel.monitoring._stats import (
    Distribution,
    chi2_contingency_test,
    chisquare_test,
    compare_sorted,
    histogram,
    jensenshannon_distance,
    ks_pvalue,
    psi,
    sturges_edges,
)

TOL = 1e-9


def _samples(rng: np.random.Generator, kind: str, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    if kind == "normal":
        return rng.normal(size=n), rng.normal(0.2, 1.3, size=m)
    if kind == "ties":  # few distinct values: runs of equal values on both sides
        return rng.integers(0, 12, n).astype(float), rng.integers(2, 15, m).astype(float)
    return rng.exponential(size=n), rng.lognormal(size=m)


@pytest.mark.parametrize("kind", ["normal", "ties", "skewed"])
@pytest.mark.parametrize("block", [1 << 20, 37])
def test_ks_and_wasserstein_match_scipy(
    kind: str, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a small block forces the blockwise merge (as 10M-row columns use) on small data
    monkeypatch.setattr(_stats, "_BLOCK", block)
    rng = np.random.default_rng(7)
    for _ in range(20):
        n, m = (int(x) for x in rng.integers(1, 2500, 2))
        r, c = _samples(rng, kind, n, m)
        got = compare_sorted(Distribution(np.sort(r)), Distribution(np.sort(c)))
        assert got.ks == pytest.approx(stats.ks_2samp(r, c).statistic, abs=TOL)
        assert got.wasserstein == pytest.approx(stats.wasserstein_distance(r, c), abs=TOL, rel=TOL)


def test_weighted_distributions_match_scipy_weights() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        values = np.unique(rng.normal(size=int(rng.integers(2, 400))))
        weights = rng.integers(1, 50, values.shape[0]).astype(np.int64)
        c = rng.normal(0.1, size=int(rng.integers(1, 900)))
        got = compare_sorted(Distribution(values, weights), Distribution(np.sort(c)))
        expected = stats.wasserstein_distance(values, c, u_weights=weights)
        assert got.wasserstein == pytest.approx(expected, abs=TOL, rel=TOL)
        assert got.ks == pytest.approx(
            stats.ks_2samp(np.repeat(values, weights), c).statistic, abs=TOL
        )


def test_ks_pvalue_matches_scipy_exact_and_asymptotic() -> None:
    rng = np.random.default_rng(11)
    for n, m in [(50, 80), (900, 1000), (10_000, 9_000), (20_000, 15_000), (120_000, 60_000)]:
        r, c = rng.normal(size=n), rng.normal(0.02, size=m)
        ref, cur = Distribution(np.sort(r)), Distribution(np.sort(c))
        d = compare_sorted(ref, cur).ks
        expected = stats.ks_2samp(r, c)
        assert d == pytest.approx(expected.statistic, abs=TOL)
        assert ks_pvalue(d, n, m, ref, cur) == pytest.approx(expected.pvalue, abs=TOL, rel=1e-7)


def test_sturges_edges_and_histogram_match_numpy() -> None:
    rng = np.random.default_rng(5)
    for integer in (False, True):
        for _ in range(20):
            n = int(rng.integers(2, 5000))
            if integer:
                a = rng.integers(0, int(rng.integers(1, 60)), n)
            else:
                a = rng.normal(size=n) * float(rng.uniform(0.01, 100))
            edges = sturges_edges(float(a.min()), float(a.max()), a.shape[0], integer)
            np.testing.assert_array_equal(edges, np.histogram_bin_edges(a, bins="sturges"))
            counts = histogram(Distribution(np.sort(a.astype(float))), edges)
            np.testing.assert_array_equal(counts, np.histogram(a, edges)[0])


def test_histogram_of_weighted_values() -> None:
    values = np.array([0.0, 1.0, 2.5, 4.0])
    weights = np.array([3, 1, 2, 5], dtype=np.int64)
    edges = np.array([0.0, 1.0, 2.0, 4.0])
    np.testing.assert_array_equal(
        histogram(Distribution(values, weights), edges),
        np.histogram(np.repeat(values, weights), edges)[0],
    )


def test_jensenshannon_matches_scipy() -> None:
    rng = np.random.default_rng(9)
    for _ in range(50):
        k = int(rng.integers(2, 40))
        p, q = rng.integers(0, 100, k).astype(float), rng.integers(0, 100, k).astype(float)
        p[0] += 1
        q[-1] += 1  # neither all zero
        assert jensenshannon_distance(p, q) == pytest.approx(distance.jensenshannon(p, q), abs=TOL)


def test_chisquare_matches_scipy_goodness_of_fit() -> None:
    rng = np.random.default_rng(13)
    for _ in range(50):
        k = int(rng.integers(3, 30))
        ref = rng.integers(1, 500, k).astype(float)
        cur = rng.integers(0, 500, k).astype(float)
        stat, p = chisquare_test(ref, cur)
        expected = stats.chisquare(cur, ref * cur.sum() / ref.sum())
        assert stat == pytest.approx(expected.statistic, rel=TOL, abs=TOL)
        assert p == pytest.approx(expected.pvalue, abs=TOL)


def test_chisquare_of_a_new_category_is_infinite() -> None:
    stat, p = chisquare_test(np.array([10.0, 5.0, 0.0]), np.array([7.0, 6.0, 2.0]))
    assert stat == float("inf") and p == 0.0


def test_chi2_contingency_matches_scipy_with_and_without_yates() -> None:
    rng = np.random.default_rng(17)
    for k in [2, 2, 2, 3, 5, 12, 30]:
        ref = rng.integers(1, 400, k).astype(float)
        cur = rng.integers(1, 400, k).astype(float)
        stat, p = chi2_contingency_test(ref, cur)
        expected = stats.chi2_contingency(np.vstack([ref, cur]))
        assert stat == pytest.approx(expected.statistic, rel=TOL, abs=TOL)
        assert p == pytest.approx(expected.pvalue, abs=TOL)


def test_psi_matches_the_formula_with_evidently_zero_fill() -> None:
    r = np.array([0.5, 0.3, 0.2, 0.0])
    c = np.array([0.4, 0.4, 0.1, 0.1])
    filled = np.array([0.5, 0.3, 0.2, 0.0001])
    assert psi(r, c) == pytest.approx(np.sum((filled - c) * np.log(filled / c)), abs=TOL)
    assert psi(c, c) == 0.0
