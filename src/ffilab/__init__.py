"""ffilab: the same kernels in every Python acceleration route, proven equal and measured.

>>> import ffilab
>>> [r.name for r in ffilab.routes()][:2]
['python', 'numpy']
>>> ffilab.route("python").sum_of_squares(10)
285
"""

from __future__ import annotations

# The routes package is loaded first, on purpose: Python binds a package to its parent's attribute
# (here ``ffilab.routes``) once, when it is first loaded.  The registry's function ``routes``
# imported after it then holds that name for good, while the package stays
# ``sys.modules["ffilab.routes"]``, where ``from ffilab.routes import python`` and
# ``ffilab.route(name)`` find it.
from ffilab import routes as _routes_package  # noqa: F401  (loaded before the name is taken)
from ffilab._registry import KERNELS, ROUTES, RouteInfo, RouteUnavailable, build_info, route, routes

del _routes_package

__all__ = ["KERNELS", "ROUTES", "RouteInfo", "RouteUnavailable", "build_info", "route", "routes"]
__version__ = "0.1.0"
