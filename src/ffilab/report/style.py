"""One colour and one marker per route, used by every figure of the report.

The routes come from the registry, in its order, so a new route gets its own style without an edit
here.  Twelve colours (matplotlib's tab10 and two darker ones) and thirteen markers: a route's
(colour, marker) pair stays unique for the first 156 routes, and its colour for the first twelve.
The markers leave out ``*``, ``D`` and ``X``, which the scaling figure uses for crossovers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ffilab import _registry

__all__ = ["COLOURS", "MARKERS", "ROUTE_STYLES", "RouteStyle", "route_style"]

#: tab10 (grey first: the first registry route is python, the reference), then navy and black.
COLOURS: tuple[str, ...] = (
    "#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#393b79", "#000000",
)
#: One longer than COLOURS, so that colour and marker do not repeat together.
MARKERS: tuple[str, ...] = ("o", "s", "^", "v", "<", ">", "p", "h", "d", "P", "8", "H", "x")


@dataclass(frozen=True)
class RouteStyle:
    """How a route is drawn: a matplotlib colour and line marker."""

    colour: str
    marker: str


def _style(index: int) -> RouteStyle:
    return RouteStyle(COLOURS[index % len(COLOURS)], MARKERS[index % len(MARKERS)])


#: The style of every registry route, by name.
ROUTE_STYLES: dict[str, RouteStyle] = {spec.name: _style(i) for i, spec in enumerate(_registry.ROUTES)}


def route_style(route: str) -> RouteStyle:
    """Return the colour and marker of ``route``.

    Parameters
    ----------
    route : str
        A route name; a name the registry does not know (e.g. from an older results file) gets the
        style after the registry's, the same one in every figure.

    Returns
    -------
    RouteStyle
        The route's colour and marker.
    """
    return ROUTE_STYLES.get(route) or _style(len(ROUTE_STYLES))
