"""ffilab.stats: quartiles, instability, bootstrap and Mann-Whitney U against hand-computed values."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from ffilab.stats import UNSTABLE_SPREAD, bootstrap_ci, compare_samples, mann_whitney_u, summarize


def _normal_two_sided_p(u: float, n_a: int, n_b: int, variance: float) -> float:
    """The asymptotic p-value with continuity correction, written out from the textbook formula."""
    z = (abs(u - n_a * n_b / 2) - 0.5) / math.sqrt(variance)
    return min(1.0, 2 * (1 - 0.5 * (1 + math.erf(z / math.sqrt(2)))))


def _pair_count_u(a: list[float], b: list[float]) -> float:
    """U of a by its definition: pairs with a > b, ties counting one half (independent of ranks)."""
    return sum(1.0 if x > y else 0.5 if x == y else 0.0 for x in a for y in b)


def _rank_variance(a: list[float], b: list[float]) -> float:
    """Permutation variance of U from the squared midranks (an independent route to the tie correction)."""
    pooled = sorted(a + b)
    ranks = {v: (pooled.index(v) + 1 + len(pooled) - pooled[::-1].index(v)) / 2 for v in pooled}
    n_a, n_b, n = len(a), len(b), len(a) + len(b)
    sum_sq = sum(ranks[v] ** 2 for v in a + b)
    return n_a * n_b / (n * (n - 1)) * sum_sq - n_a * n_b * (n + 1) ** 2 / (4 * (n - 1))


# --- summarize ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "q1", "median", "q3"),
    [
        ([1.0, 2.0, 3.0, 4.0, 5.0], 2.0, 3.0, 4.0),
        # inclusive: positions (n-1)/4 = 0.75 and 2.25 -> 1 + 0.75 = 1.75, 3 + 0.25 = 3.25
        ([4.0, 1.0, 3.0, 2.0], 1.75, 2.5, 3.25),
        # positions 1.25 and 3.75: 15 + 0.25 * 21 = 20.25, 39 + 0.75 * 1 = 39.75
        ([7.0, 15.0, 36.0, 39.0, 40.0, 41.0], 20.25, 37.5, 39.75),
    ],
)
def test_quartiles_on_known_data(data: list[float], q1: float, median: float, q3: float) -> None:
    s = summarize(data)
    assert (s.q1, s.median, s.q3) == pytest.approx((q1, median, q3))
    assert s.iqr == pytest.approx(q3 - q1)
    assert s.spread == pytest.approx((q3 - q1) / median)
    assert (s.n, s.min, s.max) == (len(data), min(data), max(data))
    assert s.mean == pytest.approx(statistics.fmean(data))
    assert s.stdev == pytest.approx(statistics.stdev(data))
    # The documented equivalence: inclusive quartiles are numpy's default (linear) percentiles.
    assert (s.q1, s.q3) == pytest.approx(tuple(np.percentile(data, [25, 75])))


def test_one_sample_has_no_spread() -> None:
    s = summarize([3e-8])
    assert (s.n, s.q1, s.median, s.q3, s.min, s.max, s.mean) == (1, 3e-8, 3e-8, 3e-8, 3e-8, 3e-8, 3e-8)
    assert (s.iqr, s.spread, s.stdev, s.unstable) == (0.0, 0.0, 0.0, False)


def test_two_samples_interpolate() -> None:
    s = summarize([2.0, 1.0])
    assert (s.q1, s.median, s.q3) == (1.25, 1.5, 1.75)
    assert s.spread == pytest.approx(0.5 / 1.5)
    assert s.stdev == pytest.approx(math.sqrt(0.5))


def test_identical_samples_are_stable() -> None:
    s = summarize([5.0] * 7)
    assert (s.iqr, s.spread, s.unstable) == (0.0, 0.0, False)


def test_zero_median_with_spread_is_infinitely_unstable() -> None:
    s = summarize([-1.0, 0.0, 1.0])
    assert s.spread == math.inf and s.unstable


def test_unstable_flag_at_the_ten_percent_threshold() -> None:
    assert UNSTABLE_SPREAD == 0.10
    at = summarize([9.0, 10.0, 11.0])  # q1 9.5, q3 10.5: IQR 1 over median 10, exactly 10 %
    assert at.spread == 0.10 and at.unstable
    below = summarize([9.01, 10.0, 10.99])  # IQR 0.99: 9.9 %
    assert below.spread == pytest.approx(0.099) and not below.unstable
    above = summarize([8.0, 10.0, 12.0])
    assert above.spread == pytest.approx(0.2) and above.unstable


@pytest.mark.parametrize("bad", [[], [1.0, math.nan], [math.inf, 1.0]])
def test_summarize_rejects_empty_and_non_finite(bad: list[float]) -> None:
    with pytest.raises(ValueError, match="summarize"):
        summarize(bad)


def test_summary_is_frozen() -> None:
    s = summarize([1.0, 2.0])
    with pytest.raises(AttributeError):
        s.median = 0.0  # type: ignore[misc]


# --- bootstrap_ci ------------------------------------------------------------------------------

_DATA = [1.02, 0.98, 1.10, 1.00, 0.95, 1.05, 1.01, 0.99, 1.30, 1.03, 0.97, 1.00, 1.04, 0.96, 1.01]


def test_bootstrap_is_deterministic_with_its_seed() -> None:
    assert bootstrap_ci(_DATA) == bootstrap_ci(list(_DATA))
    assert bootstrap_ci(_DATA, seed=7) == bootstrap_ci(_DATA, seed=7)
    assert bootstrap_ci(_DATA, seed=7) != bootstrap_ci(_DATA, seed=8)


def test_bootstrap_interval_brackets_the_median() -> None:
    low, high = bootstrap_ci(_DATA)
    assert min(_DATA) <= low <= statistics.median(_DATA) <= high <= max(_DATA)
    assert low < high


def test_bootstrap_wider_confidence_gives_a_wider_interval() -> None:
    # Same seed: the same bootstrap distribution, so the quantiles nest.
    low90, high90 = bootstrap_ci(_DATA, confidence=0.90)
    low99, high99 = bootstrap_ci(_DATA, confidence=0.99)
    assert low99 <= low90 <= high90 <= high99


def test_bootstrap_any_statistic() -> None:
    low, high = bootstrap_ci(_DATA, stat=statistics.fmean, resamples=500)
    assert low < statistics.fmean(_DATA) < high
    # The vectorised median and the generic path agree on the same draws.
    assert bootstrap_ci(_DATA, stat=np.median) == bootstrap_ci(_DATA)
    assert bootstrap_ci(_DATA, stat=lambda xs: float(np.median(xs))) == pytest.approx(bootstrap_ci(_DATA))


def test_bootstrap_of_one_sample_is_that_sample() -> None:
    assert bootstrap_ci([2.5]) == (2.5, 2.5)


@pytest.mark.parametrize(("kwargs", "match"), [({"confidence": 1.0}, "confidence"), ({"resamples": 0}, "resamples")])
def test_bootstrap_rejects_bad_arguments(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        bootstrap_ci(_DATA, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bootstrap_ci"):
        bootstrap_ci([])


# --- mann_whitney_u ----------------------------------------------------------------------------


def test_mann_whitney_textbook_example() -> None:
    # scipy.stats.mannwhitneyu's documented example (Conover): ages of males and females.
    males, females = [19, 22, 16, 29, 24], [20, 11, 17, 12]
    u, p = mann_whitney_u(males, females)
    # Pairs male > female: 19 -> 3, 22 -> 4, 16 -> 2, 29 -> 4, 24 -> 4.
    assert u == 17.0
    # No ties: sigma^2 = 5 * 4 * (9 + 1) / 12; z = (|17 - 10| - 0.5) / sigma.
    assert p == pytest.approx(_normal_two_sided_p(17, 5, 4, 5 * 4 * 10 / 12), rel=1e-12)
    assert p == pytest.approx(0.11134688653314041, rel=1e-9)  # scipy, method="asymptotic"


def test_mann_whitney_fully_separated() -> None:
    a, b = [1.0, 2.0, 3.0, 4.0, 5.0], [6.0, 7.0, 8.0, 9.0, 10.0]
    u, p = mann_whitney_u(a, b)
    assert u == 0.0
    # z = (12.5 - 0.5) / sqrt(25 * 11 / 12) = 2.5067
    assert p == pytest.approx(math.erfc(12 / math.sqrt(25 * 11 / 12) / math.sqrt(2)), rel=1e-12)
    assert p == pytest.approx(0.012186, abs=1e-6)
    u_b, p_b = mann_whitney_u(b, a)
    assert u_b == 25.0 and p_b == p


def test_mann_whitney_with_ties_hand_computed() -> None:
    a, b = [1.0, 2.0, 2.0, 3.0, 5.0], [2.0, 3.0, 4.0, 4.0, 6.0]
    # Midranks: 1 -> 1; 2,2,2 -> 3; 3,3 -> 5.5; 4,4 -> 7.5; 5 -> 9; 6 -> 10.
    # R_a = 1 + 3 + 3 + 5.5 + 9 = 21.5, so U_a = 21.5 - 5 * 6 / 2 = 6.5.
    # Tie groups of 3, 2, 2: sum(t^3 - t) = 24 + 6 + 6 = 36, so
    # sigma^2 = 25 / 12 * (11 - 36 / 90) = 265 / 12.
    u, p = mann_whitney_u(a, b)
    assert u == 6.5 == _pair_count_u(a, b)
    assert _rank_variance(a, b) == pytest.approx(265 / 12)
    assert p == pytest.approx(_normal_two_sided_p(6.5, 5, 5, 265 / 12), rel=1e-12)
    assert p == pytest.approx(0.24185, abs=1e-4)


def test_mann_whitney_agrees_with_independent_formulas_on_tied_random_data() -> None:
    rng = np.random.default_rng(1)
    for n_a, n_b in [(5, 5), (7, 12), (15, 15), (20, 9)]:
        a = rng.integers(0, 6, n_a).astype(float).tolist()  # few distinct values: many ties
        b = rng.integers(1, 7, n_b).astype(float).tolist()
        u, p = mann_whitney_u(a, b)
        assert u == _pair_count_u(a, b)
        assert p == pytest.approx(_normal_two_sided_p(u, n_a, n_b, _rank_variance(a, b)), rel=1e-9)
        u_b, p_b = mann_whitney_u(b, a)
        assert u + u_b == n_a * n_b
        assert p_b == pytest.approx(p, rel=1e-12)


def test_mann_whitney_all_tied_and_tiny_samples() -> None:
    assert mann_whitney_u([5.0, 5.0], [5.0, 5.0, 5.0]) == (3.0, 1.0)
    assert mann_whitney_u([1.0], [2.0]) == (0.0, 1.0)  # z = (0.5 - 0.5) / 0.5 = 0
    # Three against three cannot reach 0.05, even fully separated.
    assert mann_whitney_u([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])[1] > 0.05


def test_mann_whitney_rejects_empty_samples() -> None:
    with pytest.raises(ValueError, match="b"):
        mann_whitney_u([1.0], [])


# --- compare_samples ---------------------------------------------------------------------------


def _noisy(median: float, n: int = 15, rel: float = 0.03, seed: int = 0) -> list[float]:
    return (median * np.random.default_rng(seed).uniform(1 - rel, 1 + rel, n)).tolist()


def test_clearly_slower_is_significant() -> None:
    c = compare_samples(_noisy(1e-6, seed=1), _noisy(1.3e-6, seed=2))
    assert c.significant and c.p_value < 0.001
    assert c.ratio == pytest.approx(1.3, rel=0.05)
    assert c.verdict.endswith("x slower") and c.verdict == f"{c.ratio:.2f}x slower"
    assert c.change == pytest.approx(c.ratio - 1)


def test_clearly_faster_is_significant() -> None:
    c = compare_samples(_noisy(1.45e-3, seed=3), _noisy(1e-3, seed=4))
    assert c.significant and c.ratio < 1
    assert c.verdict == f"{1 / c.ratio:.2f}x faster"
    assert c.verdict.startswith(("1.4", "1.5"))


def test_identical_samples_are_not_significant() -> None:
    a = _noisy(1e-6, seed=5)
    c = compare_samples(a, list(a))
    assert (c.ratio, c.p_value, c.significant, c.verdict) == (1.0, 1.0, False, "not significant")


def test_same_distribution_is_not_significant() -> None:
    c = compare_samples(_noisy(1e-6, seed=6), _noisy(1e-6, seed=7))
    assert not c.significant and c.p_value > 0.05
    assert c.verdict == "not significant"


def test_consistent_shift_within_noise_is_not_significant() -> None:
    # A 2 % shift over 1000 samples is "significant" to the U test, but the samples spread by
    # about 20 % (IQR / median): the noise band (10 %) rules it out.
    a = np.linspace(0.8, 1.2, 1000).tolist()
    b = (np.linspace(0.8, 1.2, 1000) * 1.02).tolist()
    c = compare_samples(a, b)
    assert c.p_value < 0.05
    assert c.noise_band == pytest.approx(0.1, rel=0.05)
    assert not c.significant and c.verdict == "not significant"


def test_min_effect_is_a_floor_under_the_noise_band() -> None:
    a = _noisy(1e-6, n=50, rel=0.002, seed=8)
    b = _noisy(1.03e-6, n=50, rel=0.002, seed=9)
    assert compare_samples(a, b).significant  # tight samples: 3 % is outside their noise
    c = compare_samples(a, b, min_effect=0.05)
    assert c.p_value < 0.001 and c.noise_band == 0.05 and not c.significant
    with pytest.raises(ValueError, match="min_effect"):
        compare_samples(a, b, min_effect=-0.1)


def test_too_few_samples_are_not_significant() -> None:
    c = compare_samples([1.0, 1.1, 0.9], [2.0, 2.2, 1.8])
    assert c.ratio == 2.0 and c.p_value == pytest.approx(0.0809, abs=1e-4) and not c.significant


def test_ties_make_tiny_samples_look_significant() -> None:
    # The documented weakness of the normal approximation: the tie correction shrinks the variance.
    u, p = mann_whitney_u([1.0, 1.0, 1.0], [2.0, 2.0, 2.0])
    # sigma^2 = 9 / 12 * (7 - 48 / 30) = 4.05; z = (4.5 - 0.5) / sqrt(4.05)
    assert u == 0.0 and p == pytest.approx(_normal_two_sided_p(0.0, 3, 3, 4.05), rel=1e-12) and p < 0.05


def test_alpha_is_checked() -> None:
    with pytest.raises(ValueError, match="alpha"):
        compare_samples([1.0], [2.0], alpha=0.0)


def test_median_spread() -> None:
    from ffilab.stats import median_spread

    five = median_spread([1.0, 2.0, 2.0, 2.0, 9.0])
    assert five["seconds"] == 2.0 and five["best"] == 1.0 and five["spread"] > 0
    three = median_spread([1.0, 2.0, 4.0])
    assert three == {"seconds": 2.0, "best": 1.0, "spread": 1.5}  # the range over the median
    with pytest.raises(ValueError):
        median_spread([])
