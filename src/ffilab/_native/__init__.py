"""Installed home of ``libffilab_core``, the plain C library that ctypes and cffi ABI mode load.

It is a package only so that ``importlib.resources`` can find the library wherever the package
is installed (site-packages, a wheel cache, an editable build).
"""
