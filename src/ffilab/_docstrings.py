"""The kernels' docstrings, written once: every route's compiled module shows this text.

Like NumPy's ``ufunc_docstrings.py``, this module is the one place a kernel's documentation is
written.  ``csrc/generate_docs.py`` turns it into ``csrc/ffilab_docs.h``, the C header the C and
C++ routes (capi, pybind11, nanobind) compile their docstrings from, each with the signature line
its binding needs; ``tests/test_house.py`` checks that the header is up to date and that every
route's docstrings equal these texts.

Each entry is ``name: (parameters, text)``: ``parameters`` is the Python parameter list as the
reference declares it (``"n, /"``; ``None`` for a property), ``text`` the numpydoc docstring
without a signature line.  The texts state the contract (``ffilab.contract``), true of every
route; how a route implements a kernel belongs in that route's own module docstring.

This module imports nothing from ffilab (the generator loads it by path, outside any build).
"""

from __future__ import annotations

import inspect

__all__ = ["DOCS", "signature_line"]


def _doc(text: str) -> str:
    # Written indented in the source, stored as Python stores a docstring once cleaned.
    return inspect.cleandoc(text)


#: name -> (parameters, docstring).  Accumulator members are named "Accumulator.<member>".
DOCS: dict[str, tuple[str | None, str]] = {
    "sum_of_squares": ("n, /", _doc("""
        Return the exact sum of ``i * i`` for ``0 <= i < n``.

        The loop runs to the end (never a closed form) and the sum is exact: a Python int that
        never wraps around.

        Parameters
        ----------
        n : int
            Number of terms, ``0 <= n <= 2**32``; anything with ``__index__`` is accepted.

        Returns
        -------
        int
            The exact sum.

        Raises
        ------
        TypeError
            ``n`` is not an integer.
        ValueError
            ``n < 0``.
        OverflowError
            ``n > 2**32``.
        """)),
    "circle_area": ("radius, /", _doc("""
        Return ``pi * radius * radius``, evaluated left to right.

        Parameters
        ----------
        radius : float
            Any real number (float, int, or an object with ``__float__`` or ``__index__``).

        Returns
        -------
        float

        Raises
        ------
        TypeError
            ``radius`` is not a real number.
        OverflowError
            ``radius`` is an int too large for a float.
        """)),
    "scale_array": ("arr, factor", _doc("""
        Multiply every element of ``arr`` by ``factor``, in place.

        Parameters
        ----------
        arr : numpy.ndarray
            Writable, 1-D, C-contiguous, aligned, native float64.  Never converted or copied: the
            caller's array is modified.
        factor : float
            Any real number.

        Returns
        -------
        None

        Raises
        ------
        TypeError
            ``arr`` is not a native float64 ndarray, or ``factor`` is not a real number.
        ValueError
            ``arr`` is not 1-D, not C-contiguous, misaligned, or read-only.
        OverflowError
            ``factor`` is an int too large for a float.
        """)),
    "compute_distances": ("points, /", _doc("""
        Return the distance of each row of ``points`` from the origin.

        Parameters
        ----------
        points : numpy.ndarray
            Shape ``(n, 2)``, C-contiguous, aligned, native float64.

        Returns
        -------
        numpy.ndarray
            A new float64 array of shape ``(n,)``.

        Raises
        ------
        TypeError
            ``points`` is not a native float64 ndarray.
        ValueError
            ``points`` is not of shape ``(n, 2)``, not C-contiguous or misaligned.
        MemoryError
            The result could not be allocated.
        """)),
    "primes": ("n, /", _doc("""
        Return the primes below ``n`` by the lesson's trial division.

        Each candidate is divided by every ``d`` in ``2 .. candidate - 1`` until the first
        divisor.

        Parameters
        ----------
        n : int
            Upper bound (exclusive), ``0 <= n <= 2**31 - 1``.

        Returns
        -------
        list of int

        Raises
        ------
        TypeError
            ``n`` is not an integer.
        ValueError
            ``n < 0``.
        OverflowError
            ``n > 2**31 - 1``.
        MemoryError
            The result could not be allocated.
        """)),
    "fast_sum": ("a, /", _doc("""
        Return the sum of ``a``, accumulated left to right.

        Parameters
        ----------
        a : numpy.ndarray
            1-D, C-contiguous, aligned, native float64.

        Returns
        -------
        float
            ``0.0`` for an empty array.

        Raises
        ------
        TypeError
            ``a`` is not a native float64 ndarray.
        ValueError
            ``a`` is not 1-D, not C-contiguous or misaligned.
        """)),
    "fast_dot": ("a, b", _doc("""
        Return the dot product of ``a`` and ``b``, accumulated left to right.

        Parameters
        ----------
        a, b : numpy.ndarray
            1-D, C-contiguous, aligned, native float64, of the same length.

        Returns
        -------
        float

        Raises
        ------
        TypeError
            ``a`` or ``b`` is not a native float64 ndarray.
        ValueError
            Not 1-D, not C-contiguous, misaligned, or of different lengths.
        """)),
    "fast_norm": ("a, /", _doc("""
        Return the L2 norm ``sqrt(sum(x * x))`` of ``a``.

        No rescaling: the sum of squares overflows to ``inf`` exactly as the reference's does.

        Parameters
        ----------
        a : numpy.ndarray
            1-D, C-contiguous, aligned, native float64.

        Returns
        -------
        float

        Raises
        ------
        TypeError
            ``a`` is not a native float64 ndarray.
        ValueError
            ``a`` is not 1-D, not C-contiguous or misaligned.
        """)),
    "scale_and_shift": ("a, scale, shift=0.0", _doc("""
        Return a new array ``a * scale + shift``.

        Parameters
        ----------
        a : numpy.ndarray
            1-D, C-contiguous, aligned, native float64 (not modified).
        scale : float
            Any real number.
        shift : float, default 0.0
            Any real number, added after scaling.

        Returns
        -------
        numpy.ndarray
            A new float64 array of the same length as ``a``.

        Raises
        ------
        TypeError
            ``a`` is not a native float64 ndarray, or ``scale``/``shift`` is not a real number.
        ValueError
            ``a`` is not 1-D, not C-contiguous or misaligned.
        OverflowError
            ``scale`` or ``shift`` is an int too large for a float.
        """)),
    "haversine_distance": ("lat1, lon1, lat2, lon2", _doc("""
        Return the great-circle distance in km between two points given in degrees (R = 6371).

        Parameters
        ----------
        lat1, lon1, lat2, lon2 : float
            Latitudes and longitudes in degrees; any real numbers.

        Returns
        -------
        float

        Raises
        ------
        TypeError
            An argument is not a real number.
        OverflowError
            An argument is an int too large for a float.
        """)),
    "haversine_many": ("lat, lon, lats, lons", _doc("""
        Return the distance in km from ``(lat, lon)`` to every ``(lats[i], lons[i])``.

        Parameters
        ----------
        lat, lon : float
            The reference point, in degrees.
        lats, lons : numpy.ndarray
            1-D, C-contiguous, aligned, native float64, of the same length.

        Returns
        -------
        numpy.ndarray
            A new float64 array of distances in km.

        Raises
        ------
        TypeError
            ``lat``/``lon`` is not a real number, or ``lats``/``lons`` is not a native float64
            ndarray.
        ValueError
            ``lats``/``lons`` not 1-D, not C-contiguous, misaligned, or of different lengths.
        OverflowError
            ``lat`` or ``lon`` is an int too large for a float.
        """)),
    "find_nearest_k": ("lat, lon, lats, lons, k", _doc("""
        Return the ``k`` points nearest to ``(lat, lon)``.

        Parameters
        ----------
        lat, lon : float
            The reference point, in degrees.
        lats, lons : numpy.ndarray
            1-D, C-contiguous, aligned, native float64, of the same length ``n``.
        k : int
            How many points to return, ``0 <= k <= n``.

        Returns
        -------
        indices : numpy.ndarray of int64
        distances : numpy.ndarray of float64
            Sorted by distance (km), ties broken by the smaller index, NaN distances last.

        Raises
        ------
        TypeError
            ``lat``/``lon`` is not a real number, ``lats``/``lons`` is not a native float64
            ndarray, or ``k`` is not an integer.
        ValueError
            ``lats``/``lons`` not 1-D, not C-contiguous, misaligned or of different lengths;
            ``k < 0`` or ``k > n``.
        OverflowError
            ``lat`` or ``lon`` is an int too large for a float.
        MemoryError
            The result could not be allocated.
        """)),
    "tokenize_batch": ("texts, /", _doc("""
        Return the tokens of every text: NFKC, then case folding, then words, exact on any Unicode.

        Per text: ``str.casefold(unicodedata.normalize("NFKC", text))`` (an ASCII text skips both:
        they are the identity and ASCII lowercasing there); tokens are maximal runs of word
        characters in which an apostrophe, hyphen or zero-width (non-)joiner between two word
        characters joins; a token of digits only becomes ``"<num>"``, one longer than
        ``TOKEN_MAX_CHARS`` (64) code points is dropped (see ``ffilab.contract``).

        Parameters
        ----------
        texts : list of str
            The batch; a subclass of list or str is read as its raw data.

        Returns
        -------
        list of list of str
            One list of tokens per text, in order.

        Raises
        ------
        TypeError
            ``texts`` is not a list, or one of its elements is not a str.
        """)),
    "Accumulator": ("initial=0.0", _doc("""
        Running total and count of the values added to it.

        Parameters
        ----------
        initial : float, default 0.0
            Starting total (the count starts at 0).

        Raises
        ------
        TypeError
            ``initial`` is not a real number.
        OverflowError
            ``initial`` is an int too large for a float.
        """)),
    "Accumulator.__init__": ("initial=0.0", "Start with total ``initial`` and count 0."),
    "Accumulator.add": ("value, /", _doc("""
        Add ``value`` to the total and count it.

        Parameters
        ----------
        value : float
            Any real number.

        Raises
        ------
        TypeError
            ``value`` is not a real number (the accumulator is left unchanged).
        OverflowError
            ``value`` is an int too large for a float.
        """)),
    "Accumulator.mean": ("", _doc("""
        Return ``total / count``, or 0.0 when nothing was added.

        Returns
        -------
        float
        """)),
    "Accumulator.__repr__": ("", "Return ``<Accumulator count=N total=T>``, with ``T`` exactly ``repr(total)``."),
    "Accumulator.count": (None, "Number of values added (read-only)."),
    "Accumulator.total": (None, "Current total (read-only)."),
}


def signature_line(name: str, self_name: str = "") -> str:
    """Return the CPython text signature of entry ``name`` (``"add(self, value, /)"``).

    Parameters
    ----------
    name : str
        A key of :data:`DOCS` that has parameters (not a property).
    self_name : str
        The first parameter a binding declares before the reference's (``"$module"``,
        ``"$self"``, ``"self"``), or ``""`` for none.  A ``$``-parameter is positional-only: a
        ``/`` follows it unless the parameters end with their own.

    Returns
    -------
    str
        ``"<short name>(<parameters>)"``, the line before CPython's ``--`` marker.
    """
    params = DOCS[name][0]
    if params is None:
        raise ValueError(f"signature_line: {name} is a property and has no signature")
    short = name.rsplit(".", 1)[-1]
    if self_name:
        if self_name.startswith("$") and not params.endswith("/"):
            params = f"{self_name}, /" + (f", {params}" if params else "")
        else:
            params = f"{self_name}, {params}" if params else self_name
    return f"{short}({params})"
