"""Small, dependency-free statistics for timings: summaries, bootstrap intervals, Mann-Whitney U.

Used by ``ffilab bench`` (the summary of each measured row), its report and ``ffilab compare``
(is B faster or slower than A, and is the difference more than noise?). Only the standard library
and NumPy's random generator are used, so the numbers can be reproduced anywhere ffilab installs.

Conventions
-----------
* Quartiles use the *inclusive* method of :func:`statistics.quantiles` (linear interpolation
  between order statistics, the same as ``numpy.percentile(method="linear")`` and spreadsheet
  ``QUARTILE.INC``): the median is always the second quartile, and every quartile lies within
  ``[min, max]``.
* ``spread`` is the interquartile range relative to the median; a spread of
  :data:`UNSTABLE_SPREAD` (10 %) or more marks a measurement as unstable, the threshold pyperf
  uses for its own warning.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "UNSTABLE_SPREAD",
    "Comparison",
    "Summary",
    "bootstrap_ci",
    "compare_samples",
    "mann_whitney_u",
    "median_spread",
    "summarize",
]

UNSTABLE_SPREAD = 0.10
"""A spread (IQR / median) at or above this flags a measurement as unstable."""


@dataclass(frozen=True)
class Summary:
    """Robust and classical statistics of one set of samples (in the samples' unit).

    Attributes
    ----------
    n : int
        Number of samples.
    median, q1, q3 : float
        Median and first/third quartiles (inclusive method, see the module docstring).
    iqr : float
        ``q3 - q1``.
    spread : float
        ``iqr / |median|``: 0 when the IQR is 0 (always so for one sample), ``inf`` when the
        median is 0 but the IQR is not.
    unstable : bool
        ``spread >= UNSTABLE_SPREAD``.
    min, max, mean : float
        Smallest, largest and arithmetic mean.
    stdev : float
        Sample standard deviation (``n - 1`` in the denominator); 0 for a single sample.
    """

    n: int
    median: float
    q1: float
    q3: float
    iqr: float
    spread: float
    unstable: bool
    min: float
    max: float
    mean: float
    stdev: float


@dataclass(frozen=True)
class Comparison:
    """The comparison of samples ``b`` (new) with samples ``a`` (baseline); see :func:`compare_samples`.

    Attributes
    ----------
    a, b : Summary
        Summaries of the two sample sets.
    ratio : float
        ``median(b) / median(a)``: above 1, B takes longer (is slower, for timings).
    u : float
        Mann-Whitney U of ``a`` (see :func:`mann_whitney_u`).
    p_value : float
        Two-sided Mann-Whitney p-value.
    noise_band : float
        ``max(a.spread / 2, b.spread / 2, min_effect)``: a relative change no larger than this is
        within noise.
    significant : bool
        ``p_value < alpha`` and the change is outside the noise band.
    verdict : str
        ``"1.23x slower"``, ``"1.45x faster"`` or ``"not significant"``.
    """

    a: Summary
    b: Summary
    ratio: float
    u: float
    p_value: float
    noise_band: float
    significant: bool
    verdict: str

    @property
    def change(self) -> float:
        """Relative change of the median, ``ratio - 1`` (+0.23 is 23 % more time)."""
        return self.ratio - 1.0


def _as_floats(samples: Sequence[float], name: str) -> list[float]:
    """Return ``samples`` as a list of finite floats, or raise ValueError naming the argument."""
    values = [float(x) for x in samples]
    if not values:
        raise ValueError(f"{name}: need at least one sample, got none")
    if not all(math.isfinite(x) for x in values):
        raise ValueError(f"{name}: samples must be finite numbers, got {[x for x in values if not math.isfinite(x)][:3]}")
    return values


def summarize(samples: Sequence[float]) -> Summary:
    """Summarize samples: median, quartiles, spread, instability flag and classical moments.

    Parameters
    ----------
    samples : sequence of float
        At least one finite value (e.g. seconds per call from each repeat).

    Returns
    -------
    Summary
        With one sample every quartile equals it and the spread is 0; with two, the quartiles
        interpolate between them (inclusive method).

    Raises
    ------
    ValueError
        If ``samples`` is empty or holds a NaN or infinity.

    Examples
    --------
    >>> s = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    >>> (s.q1, s.median, s.q3, s.spread)
    (2.0, 3.0, 4.0, 0.6666666666666666)
    """
    values = _as_floats(samples, "summarize")
    n = len(values)
    if n == 1:
        # statistics.quantiles needs two points (before Python 3.13); one point is its own quartiles.
        q1 = median = q3 = values[0]
    else:
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    iqr = q3 - q1
    if iqr == 0.0:
        spread = 0.0
    elif median == 0.0:
        spread = math.inf
    else:
        spread = iqr / abs(median)
    return Summary(
        n=n,
        median=median,
        q1=q1,
        q3=q3,
        iqr=iqr,
        spread=spread,
        unstable=spread >= UNSTABLE_SPREAD,
        min=min(values),
        max=max(values),
        mean=statistics.fmean(values),
        stdev=statistics.stdev(values) if n > 1 else 0.0,
    )


def bootstrap_ci(
    samples: Sequence[float],
    stat: Callable[[Sequence[float]], float] = statistics.median,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of a statistic of the samples.

    Parameters
    ----------
    samples : sequence of float
        At least one finite value.
    stat : callable, default statistics.median
        The statistic; called on each resample (a sequence of floats). The default median is
        computed vectorised.
    confidence : float, default 0.95
        Coverage of the interval, strictly between 0 and 1.
    resamples : int, default 2000
        Number of bootstrap resamples (each of the same size as ``samples``, with replacement).
    seed : int, default 0
        Seed of the NumPy generator: the same inputs and seed always give the same interval.

    Returns
    -------
    (low, high) : tuple of float
        The ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles (linear interpolation)
        of the statistic over the resamples. For a single sample this is ``(x, x)``: the bootstrap
        cannot see variability that was not measured.

    Raises
    ------
    ValueError
        If ``samples`` is empty or not finite, ``confidence`` is not in (0, 1) or ``resamples < 1``.
    """
    values = np.asarray(_as_floats(samples, "bootstrap_ci"), dtype=np.float64)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"bootstrap_ci: confidence must be strictly between 0 and 1, got {confidence}")
    if resamples < 1:
        raise ValueError(f"bootstrap_ci: resamples must be at least 1, got {resamples}")
    rng = np.random.default_rng(seed)
    # One (resamples, n) index draw: reproducible for a seed regardless of the statistic.
    resampled = values[rng.integers(0, values.size, size=(resamples, values.size))]
    if stat is statistics.median or stat is np.median:
        boot = np.median(resampled, axis=1)
    else:
        boot = np.array([float(stat(row.tolist())) for row in resampled])
    low, high = np.quantile(boot, [(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0])
    return float(low), float(high)


def _midranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Return the 1-based ranks of ``values`` (ties get the mean of their ranks) and the tie-group sizes."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    groups: list[int] = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        rank = (i + j) / 2.0 + 1.0  # mean of the 1-based ranks i+1 .. j+1
        for k in range(i, j + 1):
            ranks[order[k]] = rank
        groups.append(j - i + 1)
        i = j + 1
    return ranks, groups


def mann_whitney_u(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Mann-Whitney U test (Wilcoxon rank-sum) of two independent samples, two-sided.

    ``U`` is the statistic of ``a``: the number of pairs ``(a_i, b_j)`` with ``a_i > b_j``, ties
    counting one half; ``U`` of ``b`` is ``len(a) * len(b) - U``. The p-value uses the normal
    approximation with the tie correction of the variance,

        sigma^2 = n_a n_b / 12 * ((N + 1) - sum(t^3 - t) / (N (N - 1))),

    (``t`` the size of each group of tied values, ``N = n_a + n_b``) and a continuity correction of
    1/2: ``z = (|U - n_a n_b / 2| - 1/2) / sigma``, ``p = 2 (1 - Phi(z))``, clipped to 1. This is
    scipy's ``mannwhitneyu(a, b, method="asymptotic")``.

    The p-value is approximate: close to the exact permutation p-value from about five samples per
    side, cruder below, and not always on the conservative side (3 against 3 fully separated
    values: 0.081 here, exact 0.100; 5 against 5: 0.012 here, exact 0.008). Without ties, fewer than
    four samples per side never reach p < 0.05; ties shrink the variance and weaken that guard
    (three equal values against three other equal values: 0.047 here, exact 0.100).

    Parameters
    ----------
    a, b : sequence of float
        The two samples, each non-empty and finite.

    Returns
    -------
    (U, p) : tuple of float
        ``U`` of ``a`` and the two-sided p-value; ``p`` is 1 when every value is tied.

    Raises
    ------
    ValueError
        If either sample is empty or holds a NaN or infinity.

    Examples
    --------
    >>> u, p = mann_whitney_u([19, 22, 16, 29, 24], [20, 11, 17, 12])
    >>> u, round(p, 4)
    (17.0, 0.1113)
    """
    xa = _as_floats(a, "mann_whitney_u: a")
    xb = _as_floats(b, "mann_whitney_u: b")
    n_a, n_b = len(xa), len(xb)
    n = n_a + n_b
    ranks, groups = _midranks(xa + xb)
    u = sum(ranks[:n_a]) - n_a * (n_a + 1) / 2.0
    mean_u = n_a * n_b / 2.0
    ties = sum(t**3 - t for t in groups)
    variance = n_a * n_b / 12.0 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0.0:
        # Every value tied (or one value in all): no evidence of any difference.
        return u, 1.0
    z = (abs(u - mean_u) - 0.5) / math.sqrt(variance)
    p = math.erfc(z / math.sqrt(2.0))  # = 2 * (1 - Phi(z))
    return u, min(1.0, p)


def compare_samples(a: Sequence[float], b: Sequence[float], alpha: float = 0.05, min_effect: float = 0.0) -> Comparison:
    """Compare timings ``b`` (new) with timings ``a`` (baseline): direction, size and significance.

    The change is significant when both hold:

    * the Mann-Whitney two-sided p-value is below ``alpha`` (the two sets of samples are unlikely
      to come from one distribution), and
    * the change is larger than the noise: ``max(r, 1/r) - 1 > max(spread_a, spread_b) / 2`` with
      ``r = median(b) / median(a)`` — i.e. the medians differ by more than half the larger relative
      IQR, and by more than ``min_effect``. Taking ``max(r, 1/r)`` treats "2x faster" and "2x
      slower" alike. This guards against a tiny but consistent shift (a thousand samples make any
      shift "significant") being reported as a change on a machine whose own run-to-run noise is
      larger: within one run the samples can be very tight, while two runs of the same build
      still differ by a few per cent (``min_effect`` is that floor; ``ffilab compare`` uses 5 %).

    Parameters
    ----------
    a, b : sequence of float
        Samples of the baseline and of the new measurement (e.g. seconds per call), non-empty and
        finite.
    alpha : float, default 0.05
        Significance level, strictly between 0 and 1.
    min_effect : float, default 0.0
        The smallest relative change (``max(r, 1/r) - 1``) ever called significant, whatever the
        p-value; non-negative.

    Returns
    -------
    Comparison
        ``verdict`` is ``"<r>x slower"`` (``r = ratio``) or ``"<1/r>x faster"`` with two decimals
        when significant, otherwise ``"not significant"``.

    Raises
    ------
    ValueError
        If a sample set is empty or not finite, ``alpha`` is not in (0, 1) or ``min_effect`` is
        negative or not finite.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"compare_samples: alpha must be strictly between 0 and 1, got {alpha}")
    if not (math.isfinite(min_effect) and min_effect >= 0.0):
        raise ValueError(f"compare_samples: min_effect must be a finite number >= 0, got {min_effect}")
    sa, sb = summarize(a), summarize(b)
    u, p = mann_whitney_u(a, b)
    if sa.median == 0.0:
        ratio = 1.0 if sb.median == 0.0 else math.inf
    else:
        ratio = sb.median / sa.median
    factor = math.inf if ratio == 0.0 else max(ratio, 1.0 / ratio)
    noise_band = max(sa.spread / 2.0, sb.spread / 2.0, min_effect)
    significant = p < alpha and factor - 1.0 > noise_band
    if not significant:
        verdict = "not significant"
    elif ratio > 1.0:
        verdict = f"{factor:.2f}x slower"
    else:
        verdict = f"{factor:.2f}x faster"
    return Comparison(
        a=sa, b=sb, ratio=ratio, u=u, p_value=p, noise_band=noise_band, significant=significant, verdict=verdict
    )


def median_spread(samples: Sequence[float]) -> dict[str, float]:
    """Return ``{"seconds": median, "best": minimum, "spread": IQR / median}`` of a few timings.

    The feature benchmarks (``ffilab.bench.nearest``, ``ffilab.bench.tokenize``) time a handful of
    repetitions; with fewer than four the spread is the range over the median instead of the IQR.
    """
    values = _as_floats(samples, "samples")
    med = statistics.median(values)
    if len(values) >= 4:
        q = statistics.quantiles(values, n=4)
        spread = (q[2] - q[0]) / med if med > 0 else 0.0
    else:
        spread = (max(values) - min(values)) / med if med > 0 else 0.0
    return {"seconds": med, "best": min(values), "spread": spread}
