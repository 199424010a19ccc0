"""ffilab: the same kernels in every Python acceleration route, proven equal and measured.

>>> import ffilab
>>> [r.name for r in ffilab.routes()][:2]
['python', 'numpy']
>>> ffilab.route("python").sum_of_squares(10)
285
"""

from __future__ import annotations

from ffilab._registry import KERNELS, ROUTES, RouteInfo, RouteUnavailable, build_info, route
# ``ffilab.routes`` is the routes package, made callable: ``ffilab.routes()`` lists the routes
# (see ffilab/routes/__init__.py for why the function and the package share one object).
from ffilab import routes

__all__ = ["KERNELS", "ROUTES", "RouteInfo", "RouteUnavailable", "build_info", "route", "routes"]
__version__ = "0.1.0"
