"""Number formatting for the report: times with units, speedups, sizes, sizes of n."""

from __future__ import annotations

import math

__all__ = ["fmt_bytes", "fmt_n", "fmt_speedup", "fmt_time", "number"]

#: Placeholder for a value that is absent (null in the results, or not applicable).
MISSING = "—"


def number(value: object) -> float | None:
    """Return ``value`` as a finite float, or None for null, NaN, infinities and non-numbers.

    The results file may hold ``null`` or ``NaN`` for a value that was not measured; every
    reader of a number goes through here so that both mean "absent" and never reach a plot.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _three_digits(value: float) -> str:
    # Three significant digits without scientific notation: 1.23, 12.3, 123.
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_time(seconds: object) -> str:
    """Format a duration in seconds with the unit that keeps it readable: ns, us, ms or s.

    Parameters
    ----------
    seconds : float or None
        The duration; None or NaN gives the placeholder "—".

    Returns
    -------
    str
        For example ``"39.0 ns"``, ``"1.23 us"``, ``"85.0 ms"``, ``"6.20 s"``.
    """
    value = number(seconds)
    if value is None:
        return MISSING
    magnitude = abs(value)
    for limit, scale, unit in ((1e-6, 1e9, "ns"), (1e-3, 1e6, "us"), (1.0, 1e3, "ms")):
        if magnitude < limit:
            return f"{_three_digits(value * scale)} {unit}"
    return f"{_three_digits(value)} s"


def fmt_speedup(factor: object) -> str:
    """Format a speedup factor as ``"12.3x"`` (``"0.45x"`` below 1, ``"25000x"`` from 1000)."""
    value = number(factor)
    if value is None:
        return MISSING
    if abs(value) < 1:
        return f"{value:.2f}x"
    return f"{value:.0f}x" if abs(value) >= 1000 else f"{value:.1f}x"


def fmt_bytes(size: object) -> str:
    """Format a size in bytes with binary units (``"402.7 KiB"``)."""
    value = number(size)
    if value is None:
        return MISSING
    for unit in ("B", "KiB", "MiB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def fmt_n(n: object) -> str:
    """Format a problem size with thousands separators (``"5,000,000"``)."""
    value = number(n)
    if value is None:
        return MISSING
    return f"{int(value):,}" if value == int(value) else f"{value:g}"
