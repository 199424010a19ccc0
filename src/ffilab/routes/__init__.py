"""One sub-package per acceleration route, each exporting the same kernels (see ``ffilab.KERNELS``).

Import a route through ``ffilab.route(name)``, which reports an unusable route with its reason.

This package and the function ``ffilab.routes()`` share a name, and importing any route sets
the attribute ``ffilab.routes`` to this package.  So that ``ffilab.routes()`` works whatever was
imported first, the package itself is callable and does what the function does.
"""

from __future__ import annotations

import sys
import types


class _CallableRoutesPackage(types.ModuleType):
    def __call__(self) -> list:  # type: ignore[type-arg]
        """Return every registered route with its availability (``ffilab.routes()``)."""
        from ffilab._registry import routes

        return routes()


sys.modules[__name__].__class__ = _CallableRoutesPackage
