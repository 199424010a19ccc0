"""One sub-package per acceleration route, each exporting the same kernels (see ``ffilab.KERNELS``).

Import a route through ``ffilab.route(name)``, which reports an unusable route with its reason;
``ffilab.routes()`` (a function of ``ffilab``, not this package) lists them all.
"""
