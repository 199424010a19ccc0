"""Prove every route equal to the reference: the cases and their runner (the bounds: ``ffilab.bounds``).

One table of cases (:data:`CASES`) serves ``ffilab verify`` and the test suite.  A case is a
kernel, a way to build its arguments, and either "compare with the reference" or the exception
class the contract prescribes.  Every case runs against the reference too, so the reference is
held to the contract it defines.

Float results are compared (by :mod:`ffilab.bounds`) with error bounds derived from the
operations performed, never with a free tolerance:

* sums (``fast_sum``): both results are recursive or pairwise sums whose error is at most
  ``n·eps·Σ|x|`` each, so they may differ by ``4·n·eps·Σ|x|``; ``fast_dot`` the same with
  ``Σ|a·b|``; ``fast_norm`` follows through the square root: ``(4n + 2)·eps·‖a‖``;
* a fixed short expression (``sqrt(x*x + y*y)``, ``x*s + t``): a few ulps of the magnitudes
  involved;
* haversine: every route evaluates the same formula, but ``sin``/``cos`` may come from different
  libraries (NumPy ships its own).  The haversine term ``a ∈ [0, 1]`` is then off by at most
  ``δ = 32·eps`` (about ten operations of at most a few ulps, all on values of magnitude <= 1),
  and the distance by at most ``2R·(asin√(a+δ) − asin√(a−δ))`` — a bound that grows correctly
  near antipodal points, where ``asin`` is ill-conditioned;
* exact where every route performs the very same single rounding (``circle_area``,
  ``scale_array``) or integer arithmetic (``sum_of_squares``, ``primes``, counts).
"""

from __future__ import annotations

import functools
import inspect
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np

from ffilab.bounds import compare_results, short_repr

__all__ = ["CASES", "Case", "ConversionError", "LyingFloat", "LyingInt", "Meddler", "Outcome", "check_case", "compare_results", "lying", "plain", "run_case"]

Args = tuple[tuple[Any, ...], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    """One verification case.

    Parameters
    ----------
    kernel : str
        Kernel name (``Accumulator`` for the class).
    label : str
        Short description, unique per kernel.
    make : callable
        Returns fresh ``(args, kwargs)`` on each call (in-place kernels modify their arguments).
    raises : type[Exception] or None
        The exception class the contract prescribes, or None to compare with the reference.
    oracle : callable or None
        For inputs too large for the pure-Python reference: computes the expected result from
        the arguments (e.g. the closed form of ``sum_of_squares``) instead of calling it.
    scenario : callable or None
        For ``Accumulator``: drives an instance and returns what to compare.
    stateful : bool
        The call changes its arguments beyond reuse (a conversion that resizes an array or
        acts once): build fresh arguments for every call, never replay the same ones.
    """

    kernel: str
    label: str
    make: Callable[[], Args] = field(default=lambda: ((), {}))
    raises: type[Exception] | None = None
    oracle: Callable[..., Any] | None = None
    scenario: Callable[[Any], Any] | None = None
    stateful: bool = False

    @property
    def id(self) -> str:
        return f"{self.kernel}[{self.label}]"


@dataclass(frozen=True)
class Outcome:
    """The result of one case on one route: ``ok`` or the reason it is not."""

    case: str
    ok: bool
    detail: str = ""


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _vec(n: int, seed: int = 0, scale: float = 10.0) -> np.ndarray:
    return _rng(seed).normal(0.0, scale, n)


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _matrix(a: np.ndarray) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():  # np.matrix is discouraged (PendingDeprecationWarning), not gone
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.asmatrix(a)


def _misaligned(n: int) -> np.ndarray:
    raw = np.zeros(8 * n + 1, dtype=np.uint8)
    return np.frombuffer(raw.data, dtype=np.float64, count=n, offset=1)


def _lats(n: int, seed: int) -> np.ndarray:
    return _rng(seed).uniform(-90.0, 90.0, n)


def _lons(n: int, seed: int) -> np.ndarray:
    return _rng(seed + 1).uniform(-180.0, 180.0, n)


def _bad_arrays(n: int = 6) -> list[tuple[str, Callable[[], Any], type[Exception]]]:
    """Arrays the contract rejects where a 1-D float64 array is expected, with the class."""
    base = lambda: _vec(2 * n, 7)  # noqa: E731 - a fresh array per call
    return [
        ("float32", lambda: _vec(n).astype(np.float32), TypeError),
        ("int64", lambda: np.arange(n, dtype=np.int64), TypeError),
        ("complex", lambda: _vec(n).astype(np.complex128), TypeError),
        ("object", lambda: _vec(n).astype(object), TypeError),
        ("bool", lambda: np.ones(n, dtype=bool), TypeError),
        ("big-endian", lambda: _vec(n).astype(">f8"), TypeError),
        ("list", lambda: [1.0, 2.0, 3.0], TypeError),
        ("None", lambda: None, TypeError),
        ("float", lambda: 1.5, TypeError),
        ("memoryview", lambda: memoryview(_vec(n)), TypeError),
        ("stride-2", lambda: base()[::2], ValueError),
        ("misaligned", lambda: _misaligned(n), ValueError),
        ("negative-stride", lambda: base()[::-1], ValueError),
        ("0-D", lambda: np.array(1.5), ValueError),
        ("2-D", lambda: _vec(n).reshape(2, -1), ValueError),
        ("fortran-2-D", lambda: np.asfortranarray(_vec(n).reshape(2, -1)), ValueError),
    ]


_INT_BAD: list[tuple[str, Any, type[Exception]]] = [
    ("-1", -1, ValueError),
    ("-2**70", -(2**70), ValueError),
    ("2.5", 2.5, TypeError),
    ("float-3.0", 3.0, TypeError),
    ("np.float64", np.float64(3.0), TypeError),
    ("str", "3", TypeError),
    ("None", None, TypeError),
    ("list", [3], TypeError),
    ("2**63", 2**63, OverflowError),
    ("2**64", 2**64, OverflowError),
    ("2**64+5", 2**64 + 5, OverflowError),
    ("10**5000", 10**5000, OverflowError),
]

_REAL_BAD: list[tuple[str, Any, type[Exception]]] = [
    ("None", None, TypeError),
    ("str", "2.5", TypeError),
    ("bytes", b"2.5", TypeError),
    ("complex", 1 + 2j, TypeError),
    ("list", [1.0], TypeError),
    ("2**1100", 2**1100, OverflowError),
]

_REAL_GOOD: list[tuple[str, Any]] = [
    ("0", 0.0),
    ("1", 1.0),
    ("-2.5", -2.5),
    ("int-5", 5),
    ("bool", True),
    ("np.float32", np.float32(1.5)),
    ("np.int64", np.int64(7)),
    ("1e-300", 1e-300),
    ("1e200", 1e200),
    ("nan", math.nan),
    ("inf", math.inf),
    ("-inf", -math.inf),
]


# --- Objects that lie ---------------------------------------------------------------------------
#
# Legal Python objects that are not what they seem.  The contract reads every one of them the way
# the C API does (``PyFloat_AsDouble``, ``PyNumber_Index``, the array's C struct), so every route
# must give the reference's answer (or its exception class), never a crash or a second answer.


class LyingFloat(float):
    """A float whose ``__float__`` lies: ``PyFloat_AsDouble`` reads the stored value instead."""

    def __float__(self) -> float:
        return 42.0


class LyingInt(int):
    """An int whose ``__index__``, ``__int__`` and ``__float__`` lie.

    As an integer argument it is its stored value (``PyNumber_Index`` never calls an int
    subclass's ``__index__``); as a real, ``PyFloat_AsDouble`` calls ``__float__`` (it is not a
    float), so it is 42.0.
    """

    def __index__(self) -> int:
        return 7

    def __int__(self) -> int:
        return 7

    def __float__(self) -> float:
        return 42.0


class IndexOnly:
    """An integer by ``__index__`` alone: a real too (``PyFloat_AsDouble`` falls back to it)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"IndexOnly({self.value})"


class IntOnly:
    """``__int__`` alone: neither an integer argument nor a real for the C API."""

    def __int__(self) -> int:
        return 3


class ConversionError(Exception):
    """Raised by a conversion below: every route must let it through unchanged."""


class Raising:
    """``__float__`` and ``__index__`` that raise :class:`ConversionError`."""

    def __float__(self) -> float:
        raise ConversionError("__float__ raised")

    def __index__(self) -> int:
        raise ConversionError("__index__ raised")


class Meddler:
    """A number whose conversion changes an array the kernel was given (check, then convert, then
    use: a route that checked the array before converting this would use a stale check).

    ``action`` is ``"readonly"`` (clears the array's writeable flag), ``"grow"`` / ``"shrink"``
    (resizes it in place, reallocating its memory), or ``"raise"``.
    """

    def __init__(self, value: float, target: np.ndarray, action: str) -> None:
        self.value, self.target, self.action = value, target, action
        self.done = False

    def _meddle(self) -> None:
        # Once: the case is then one well-defined change, whichever side converts first (the
        # comparison's own bounds convert the arguments again).
        if self.done:
            return
        self.done = True
        n = self.target.shape[0]
        if self.action == "readonly":
            self.target.flags.writeable = False
        elif self.action == "grow":
            self.target.resize(4 * n + 64, refcheck=False)  # realloc: the old memory is freed
        elif self.action == "shrink":
            self.target.resize(max(n // 2, 1) if n > 1 else 0, refcheck=False)
        elif self.action == "raise":
            raise ConversionError("the conversion raised")

    def __float__(self) -> float:
        self._meddle()
        return float(self.value)

    def __index__(self) -> int:
        self._meddle()
        return int(self.value)

    def __repr__(self) -> str:
        return f"Meddler({self.value!r}, {self.action})"


#: What each lying ndarray subclass claims: an attribute (or ``__len__``) and its lie.
_LIES: dict[str, dict[str, Any]] = {
    "shape-huge": {"shape": (2**26,)},
    "shape-tiny": {"shape": (1,)},
    "size-huge": {"size": 2**26},
    "len-huge": {"__len__": 2**26},
    "ndim-2": {"ndim": 2},
    "dtype-float32": {"dtype": np.dtype(np.float32)},
    "flags-readonly": {"flags": SimpleNamespace(c_contiguous=False, aligned=False, writeable=False, f_contiguous=False)},
    "strides-16": {"strides": (16,)},
    "itemsize-4": {"itemsize": 4},
    "ctypes-null": {"ctypes": SimpleNamespace(data=8, data_as=None, shape=(2**26,))},
    "nbytes-huge": {"nbytes": 2**29},
}
_LIES_OK_FLAGS = SimpleNamespace(c_contiguous=True, aligned=True, writeable=True, f_contiguous=True, owndata=True)


@functools.cache
def _lying_class(lie: str) -> type:
    attrs = dict(_LIES.get(lie, {}))
    if lie == "claims-good":  # a bad array claiming to be good in every attribute
        attrs = {"dtype": np.dtype(np.float64), "flags": _LIES_OK_FLAGS, "ndim": 1, "itemsize": 8}
    ns: dict[str, Any] = {"__doc__": f"An ndarray subclass that lies: {lie}."}
    for attr, value in attrs.items():
        if attr == "__len__":
            ns[attr] = lambda self, v=value: v
        else:
            ns[attr] = property(lambda self, v=value: v)
    return type(f"Lying[{lie}]", (np.ndarray,), ns)


def lying(arr: np.ndarray, lie: str) -> np.ndarray:
    """Return a view of ``arr`` whose class claims what ``_LIES[lie]`` says (or "claims-good")."""
    return arr.view(_lying_class(lie))


def plain(x: Any) -> Any:
    """The base-class view of an ndarray (what native code reads); anything else unchanged."""
    return np.ndarray.view(x, np.ndarray) if isinstance(x, np.ndarray) and type(x) is not np.ndarray else x


def _on_plain(kernel: str) -> Callable[..., Any]:
    """An oracle: the reference on the same arguments with every array as its plain view.

    The lying-array cases are judged by it, so that the reference, too, is held to reading the
    memory rather than the attributes (compared with itself it could never fail).
    """

    def oracle(*args: Any, **kwargs: Any) -> Any:
        from ffilab.routes import python as reference

        args = tuple(plain(a) for a in args)
        result = getattr(reference, kernel)(*args, **kwargs)
        return args[0].copy() if kernel == "scale_array" else result

    return oracle


#: Named batches for ``tokenize_batch``: what the contract says in examples, and the corners of
#: NFKC and case folding (ligatures, fullwidth forms, compatibility digits, final sigma, dotted and
#: dotless i, ß, combining marks, emoji joined by ZWJ, right-to-left and CJK scripts), lone
#: surrogates and NUL, tokens at and past the length limit, joiners at every position.
TOKENIZE_TEXTS: dict[str, list[str]] = {
    "empty-batch": [],
    "empty-texts": ["", " ", "\t\n", "!?"],
    "ascii": ["In the beginning God created the heaven and the earth.", "Don't stop-believing, it's 2024!"],
    "nfkc": ["ﬁne ﬂow ﬃ", "ＦＵＬＬ ｗｉｄｔｈ １２３", "① ² ٣ ㎞ Ⅻ ½ ｶﾞ", "\U0001d400\U0001d401C"],
    "casefold": ["Straße STRASSE", "ΣΊΣΥΦΟΣ ὈΔΥΣΣΕΎΣ ς", "İstanbul ıi Iİ", "ǅungla ǆ Ǆ"],
    "marks": ["नमस्ते दुनिया", "e\u0301 \u0301a", "ไทย ภาษา", "Ä\u0308"],
    "scripts": ["שלום עולם", "مرحبا بالعالم", "日本語のテキスト 中文", "한국어 텍스트", "Привет, мир"],
    "emoji": ["I \u2764\ufe0f \U0001f468\u200d\U0001f469\u200d\U0001f467 emoji", "x\u200dy \u200c"],
    "joiners": ["a'b'c a''b a-'b 'x' -y- z-", "state-of-the-art don\u2019t a\u2010b a\u2011b", "-", "'", "a-", "-1-2-"],
    "digits": ["1234 12a a12 1_000 1-2 ²³ ١٢٣", "0", "1" * 65],
    "length-limit": ["a" * 64, "a" * 65, "b" * 63 + "-c", "x" * 200 + " ok"],
    "surrogates-nul": ["\ud800abc\udfff", "a\x00b", "\udbff\udc00"],
    "whitespace": ["a\u00a0b\u2003c\u3000d", "e\u2028f\u0085g"],
}

_TOKENIZE_BAD: list[tuple[str, Any]] = [
    ("tuple", ("a", "b")),
    ("None", None),
    ("str", "abc"),
    ("bytes-element", ["a", b"b"]),
    ("int-element", ["a", 1]),
    ("None-element", [None]),
    ("nested-list", [["a"]]),
    ("set", {"a"}),
    ("generator", lambda: (t for t in ["a"])),
    ("ndarray", lambda: np.array(["a", "b"])),
]


class _OddStr(str):
    """A str subclass whose methods lie: routes must read the raw characters."""

    def casefold(self) -> str:  # pragma: no cover - must never be called
        return "WRONG"

    def __getitem__(self, index: Any) -> str:  # type: ignore[override]
        return "WRONG"


class _OddList(list):  # type: ignore[type-arg]
    """A list subclass whose item access lies: routes must read the raw items."""

    def __getitem__(self, index: Any) -> Any:
        return "WRONG"

    def __iter__(self) -> Any:
        return iter(["WRONG"])


def _random_texts(n: int, seed: int) -> list[str]:
    """Seeded texts drawn from ASCII, Latin, Greek, Devanagari, compatibility forms and emoji."""
    rng = _rng(seed)
    blocks = [(0x20, 0x7F), (0xA0, 0x250), (0x300, 0x400), (0x900, 0x980), (0x2000, 0x2070),
              (0xFB00, 0xFB10), (0xFF00, 0xFF70), (0x1F300, 0x1F700)]
    texts = []
    for _ in range(n):
        lo, hi = blocks[int(rng.integers(len(blocks)))]
        texts.append("".join(chr(int(c)) for c in rng.integers(lo, hi, int(rng.integers(0, 60)))))
    return texts


def _sos_closed_form(n: int) -> int:
    return n * (n - 1) * (2 * n - 1) // 6


class FloatWithIndex(float):
    """A float subclass with ``__index__``: ``PyNumber_Index`` accepts it as an integer."""

    def __index__(self) -> int:
        return 4


#: Reals that lie, with what the contract makes of them (compared with the reference).
_REAL_LIARS: list[tuple[str, Callable[[], Any]]] = [
    ("LyingFloat", lambda: LyingFloat(1.5)),
    ("LyingInt", lambda: LyingInt(2)),
    ("IndexOnly", lambda: IndexOnly(3)),
    ("FloatWithIndex", lambda: FloatWithIndex(2.5)),
]
#: Reals and integers the contract refuses, with the class.
_LIAR_BAD: list[tuple[str, Callable[[], Any], type[Exception]]] = [
    ("IntOnly", IntOnly, TypeError),
    ("raising", Raising, ConversionError),
]


def _lying_cases(add: Callable[[Case], None]) -> None:
    """Objects that lie (see ``LyingFloat`` ... ``Meddler``) in every kernel that takes them."""
    # Reals: every real parameter of every kernel.
    real_params: dict[str, Callable[[Any], Args]] = {
        "circle_area": lambda v: ((v,), {}),
        "scale_array-factor": lambda v: ((_vec(5), v), {}),
        "scale_and_shift-scale": lambda v: ((_vec(5), v, 1.0), {}),
        "scale_and_shift-shift": lambda v: ((_vec(5), 2.0, v), {}),
        "haversine_distance-lat1": lambda v: ((v, 0.0, 1.0, 1.0), {}),
        "haversine_distance-lon2": lambda v: ((0.0, 0.0, 1.0, v), {}),
        "haversine_many-lat": lambda v: ((v, 0.0, _lats(5, 1), _lons(5, 1)), {}),
        "haversine_many-lon": lambda v: ((0.0, v, _lats(5, 1), _lons(5, 1)), {}),
        "find_nearest_k-lat": lambda v: ((v, 0.0, _lats(9, 1), _lons(9, 1), 3), {}),
    }
    for where, build in real_params.items():
        kernel, _, param = where.partition("-")
        tag = f"{param}-" if param else ""
        for label, mk in _REAL_LIARS:
            add(Case(kernel, f"lie-{tag}{label}", lambda b=build, mk=mk: b(mk())))
        for label, mk, exc in _LIAR_BAD:
            add(Case(kernel, f"lie-{tag}{label}", lambda b=build, mk=mk: b(mk()), raises=exc))
    for label, mk in _REAL_LIARS[:2]:
        add(Case("Accumulator", f"lie-initial-{label}", scenario=lambda cls, mk=mk: _acc_states(cls, mk(), [])))
        add(Case("Accumulator", f"lie-add-{label}", scenario=lambda cls, mk=mk: _acc_states(cls, None, [mk(), 1.0])))
    for label, mk, exc in _LIAR_BAD:
        add(Case("Accumulator", f"lie-add-{label}", scenario=lambda cls, mk=mk: cls().add(mk()), raises=exc))

    # Integers: PyNumber_Index reads an int subclass's value; __index__ alone is an integer.
    int_params: dict[str, Callable[[Any], Args]] = {
        "sum_of_squares": lambda v: ((v,), {}),
        "primes": lambda v: ((v,), {}),
        "find_nearest_k-k": lambda v: ((0.0, 0.0, _lats(9, 2), _lons(9, 2), v), {}),
    }
    int_liars: list[tuple[str, Callable[[], Any]]] = [
        ("LyingInt", lambda: LyingInt(5)),
        ("IndexOnly", lambda: IndexOnly(6)),
        ("FloatWithIndex", lambda: FloatWithIndex(2.5)),
    ]
    for where, build in int_params.items():
        kernel, _, param = where.partition("-")
        tag = f"{param}-" if param else ""
        for label, mk in int_liars:
            add(Case(kernel, f"lie-{tag}{label}", lambda b=build, mk=mk: b(mk())))
        for label, mk, exc in [*_LIAR_BAD, ("LyingFloat", lambda: LyingFloat(3.0), TypeError)]:
            add(Case(kernel, f"lie-{tag}{label}", lambda b=build, mk=mk: b(mk()), raises=exc))

    # Arrays whose Python-level attributes lie: read from what they are, not what they say.
    vector_params: dict[str, Callable[[np.ndarray], Args]] = {
        "scale_array": lambda a: ((a, 2.5), {}),
        "fast_sum": lambda a: ((a,), {}),
        "fast_norm": lambda a: ((a,), {}),
        "fast_dot-a": lambda a: ((a, _vec(plain(a).size, 3)), {}),
        "fast_dot-b": lambda a: ((_vec(plain(a).size, 3), a), {}),
        "scale_and_shift": lambda a: ((a, 1.5, -0.5), {}),
        "haversine_many-lats": lambda a: ((1.0, 2.0, a, _lons(plain(a).size, 4)), {}),
        "find_nearest_k-lons": lambda a: ((1.0, 2.0, _lats(plain(a).size, 4), a, 3), {}),
    }
    for where, build in vector_params.items():
        kernel, _, param = where.partition("-")
        tag = f"{param}-" if param else ""
        for lie in _LIES:
            add(Case(kernel, f"lie-{tag}{lie}", lambda b=build, lie=lie: b(lying(_vec(7, 8), lie)), oracle=_on_plain(kernel)))
        # Bad arrays claiming to be good: the truth decides.
        for label, mk, exc in [
            ("int64", lambda: np.arange(7, dtype=np.int64), TypeError),
            ("float32", lambda: _vec(7).astype(np.float32), TypeError),
            ("stride-2", lambda: _vec(14, 8)[::2], ValueError),
            ("2-D", lambda: _vec(8).reshape(2, 4), ValueError),
        ]:
            add(Case(kernel, f"lie-{tag}claims-good-{label}", lambda b=build, mk=mk: b(lying(mk(), "claims-good")), raises=exc))
    add(Case("scale_array", "lie-claims-good-readonly", lambda: ((lying(_readonly(_vec(7)), "claims-good"), 2.0), {}), raises=ValueError))
    for lie in ("shape-huge", "size-huge", "len-huge", "ctypes-null", "dtype-float32"):
        add(Case("compute_distances", f"lie-{lie}", lambda lie=lie: ((lying(_vec(8).reshape(4, 2), lie),), {}), oracle=_on_plain("compute_distances")))
    add(Case("compute_distances", "lie-claims-good-(n,3)", lambda: ((lying(_vec(9).reshape(3, 3), "claims-good"),), {}), raises=ValueError))

    # Check, then convert, then use: a conversion changes an array the kernel was given.
    def meddle(kernel: str, action: str) -> Callable[[], Args]:
        def make() -> Args:
            a = np.array(_vec(6, 11))  # owns its memory, so it can be resized
            if kernel == "scale_array":
                return (a, Meddler(2.0, a, action)), {}
            if kernel == "scale_and_shift":
                return (a, 2.0, Meddler(1.0, a, action)), {}
            lons = np.array(_lons(6, 12))
            if kernel == "haversine_many":
                return (Meddler(1.0, a, action), 2.0, a, lons), {}
            return (1.0, 2.0, a, lons, Meddler(2, lons, action)), {}  # find_nearest_k: k meddles

        return make

    expected: dict[str, type[Exception] | None] = {"readonly": None, "grow": None, "shrink": None, "raise": ConversionError}
    for kernel in ("scale_array", "scale_and_shift", "haversine_many", "find_nearest_k"):
        for action, exc in expected.items():
            if kernel == "scale_array" and action == "readonly":
                exc = ValueError  # the array is checked after the conversion made it read-only
            if kernel in ("haversine_many", "find_nearest_k") and action in ("grow", "shrink"):
                exc = ValueError  # one array resized: lats and lons differ in length
            add(Case(kernel, f"meddle-{action}", meddle(kernel, action), raises=exc,
                     oracle=None if exc else _fresh_reference(kernel), stateful=True))


def _fresh_reference(kernel: str) -> Callable[..., Any]:
    """An oracle running the reference on its own fresh arguments (they change during the call)."""

    def oracle(*args: Any, **kwargs: Any) -> Any:
        from ffilab.routes import python as reference

        result = getattr(reference, kernel)(*args, **kwargs)
        return plain(args[0]).copy() if kernel == "scale_array" else result

    return oracle


def _acc_states(cls: Any, initial: Any, values: Sequence[Any]) -> list[tuple[Any, ...]]:
    acc = cls() if initial is None else cls(initial)
    seen = [(acc.count, acc.total, acc.mean(), repr(acc))]
    for v in values:
        acc.add(v)
        seen.append((acc.count, acc.total, acc.mean(), repr(acc)))
    return seen


def _cases() -> list[Case]:
    cases: list[Case] = []
    add = cases.append

    # sum_of_squares -----------------------------------------------------------------------
    for n in (0, 1, 2, 3, 10, 1000, 100_000):
        add(Case("sum_of_squares", f"n={n}", lambda n=n: ((n,), {})))
    add(Case("sum_of_squares", "np.int64", lambda: ((np.int64(1234),), {})))
    add(Case("sum_of_squares", "bool", lambda: ((True,), {})))
    # Past int64 (n ≈ 3.04e6) and the lesson's n = 10**8 (its printed value is wrong): the
    # closed form is the oracle, the routes still run their loop.
    for n in (3_037_000, 10_000_000):
        add(Case("sum_of_squares", f"n={n}", lambda n=n: ((n,), {}), oracle=_sos_closed_form))
    for label, value, exc in _INT_BAD:
        add(Case("sum_of_squares", f"bad-{label}", lambda v=value: ((v,), {}), raises=exc))
    add(Case("sum_of_squares", "bad-2**32+1", lambda: ((2**32 + 1,), {}), raises=OverflowError))

    # circle_area ------------------------------------------------------------------------------
    for label, value in _REAL_GOOD:
        add(Case("circle_area", label, lambda v=value: ((v,), {})))
    for label, value, exc in _REAL_BAD:
        add(Case("circle_area", f"bad-{label}", lambda v=value: ((v,), {}), raises=exc))

    # scale_array ----------------------------------------------------------------------------
    for n in (0, 1, 7, 1000):
        add(Case("scale_array", f"n={n}", lambda n=n: ((_vec(n, n), 2.5), {})))
    add(Case("scale_array", "nan-inf", lambda: ((np.array([np.nan, np.inf, -np.inf, 1.0]), -3.0), {})))
    add(Case("scale_array", "factor-int", lambda: ((_vec(5), 3), {})))
    add(Case("scale_array", "factor-nan", lambda: ((_vec(5), math.nan), {})))
    for label, mk, exc in _bad_arrays():
        add(Case("scale_array", f"bad-arr-{label}", lambda mk=mk: ((mk(), 2.0), {}), raises=exc))
    add(Case("scale_array", "bad-readonly", lambda: ((_readonly(_vec(5)), 2.0), {}), raises=ValueError))
    for label, value, exc in _REAL_BAD:
        add(Case("scale_array", f"bad-factor-{label}", lambda v=value: ((_vec(4), v), {}), raises=exc))

    # compute_distances ----------------------------------------------------------------------
    for n in (0, 1, 5, 1000):
        add(Case("compute_distances", f"n={n}", lambda n=n: ((_vec(2 * n, n).reshape(n, 2),), {})))
    add(Case("compute_distances", "np.matrix", lambda: ((_matrix(_vec(8).reshape(4, 2)),), {})))
    add(Case("compute_distances", "readonly", lambda: ((_readonly(_vec(8).reshape(4, 2)),), {})))
    add(Case("compute_distances", "overflow-nan", lambda: ((np.array([[1e200, 1.0], [np.nan, 0.0], [np.inf, 1.0]]),), {})))
    add(Case("compute_distances", "bad-1-D", lambda: ((_vec(6),), {}), raises=ValueError))
    add(Case("compute_distances", "bad-(n,3)", lambda: ((_vec(9).reshape(3, 3),), {}), raises=ValueError))
    add(Case("compute_distances", "bad-3-D", lambda: ((_vec(8).reshape(2, 2, 2),), {}), raises=ValueError))
    add(Case("compute_distances", "bad-fortran", lambda: ((np.asfortranarray(_vec(8).reshape(4, 2)),), {}), raises=ValueError))
    add(Case("compute_distances", "bad-strided-rows", lambda: ((_vec(16).reshape(8, 2)[::2],), {}), raises=ValueError))
    add(Case("compute_distances", "bad-float32", lambda: ((_vec(8).reshape(4, 2).astype(np.float32),), {}), raises=TypeError))
    add(Case("compute_distances", "bad-list", lambda: (([[3.0, 4.0]],), {}), raises=TypeError))
    add(Case("compute_distances", "bad-None", lambda: ((None,), {}), raises=TypeError))

    # primes -----------------------------------------------------------------------------------
    for n in (0, 1, 2, 3, 4, 30, 1000, 2000):
        add(Case("primes", f"n={n}", lambda n=n: ((n,), {})))
    for label, value, exc in _INT_BAD:
        add(Case("primes", f"bad-{label}", lambda v=value: ((v,), {}), raises=exc))
    add(Case("primes", "bad-2**31", lambda: ((2**31,), {}), raises=OverflowError))

    # fast_sum / fast_norm -------------------------------------------------------------------
    for kernel in ("fast_sum", "fast_norm"):
        for n in (0, 1, 2, 17, 10_000):
            add(Case(kernel, f"n={n}", lambda n=n: ((_vec(n, n),), {})))
        add(Case(kernel, "readonly", lambda: ((_readonly(_vec(9)),), {})))
        add(Case(kernel, "nan", lambda: ((np.array([1.0, np.nan, 2.0]),), {})))
        add(Case(kernel, "inf", lambda: ((np.array([1.0, np.inf, 2.0]),), {})))
        add(Case(kernel, "inf-minus-inf", lambda: ((np.array([np.inf, -np.inf]),), {})))
        add(Case(kernel, "huge", lambda: ((np.array([1e200, 1e200, -1e200]),), {})))
        add(Case(kernel, "cancellation", lambda: ((np.array([1e16, 1.0, -1e16, 1.0]),), {})))
        for label, mk, exc in _bad_arrays():
            add(Case(kernel, f"bad-{label}", lambda mk=mk: ((mk(),), {}), raises=exc))

    # fast_dot ----------------------------------------------------------------------------------
    for n in (0, 1, 3, 10_000):
        add(Case("fast_dot", f"n={n}", lambda n=n: ((_vec(n, n), _vec(n, n + 100)), {})))
    add(Case("fast_dot", "readonly", lambda: ((_readonly(_vec(5)), _readonly(_vec(5, 1))), {})))
    add(Case("fast_dot", "nan", lambda: ((np.array([1.0, np.nan]), np.array([1.0, 2.0])), {})))
    add(Case("fast_dot", "bad-length", lambda: ((_vec(5), _vec(6)), {}), raises=ValueError))
    add(Case("fast_dot", "bad-length-empty", lambda: ((_vec(0), _vec(1)), {}), raises=ValueError))
    for label, mk, exc in _bad_arrays():
        add(Case("fast_dot", f"bad-a-{label}", lambda mk=mk: ((mk(), _vec(6)), {}), raises=exc))
        add(Case("fast_dot", f"bad-b-{label}", lambda mk=mk: ((_vec(6), mk()), {}), raises=exc))

    # scale_and_shift ---------------------------------------------------------------------------
    for n in (0, 1, 9, 1000):
        add(Case("scale_and_shift", f"n={n}", lambda n=n: ((_vec(n, n), 1.5, -0.25), {})))
    add(Case("scale_and_shift", "default-shift", lambda: ((_vec(8), 3.0), {})))
    add(Case("scale_and_shift", "shift-keyword", lambda: ((_vec(8), 3.0), {"shift": 2.0})))
    add(Case("scale_and_shift", "readonly", lambda: ((_readonly(_vec(8)), 2.0, 1.0), {})))
    add(Case("scale_and_shift", "nan-inf", lambda: ((np.array([np.nan, np.inf, 1.0]), 0.0, 1.0), {})))
    for label, mk, exc in _bad_arrays():
        add(Case("scale_and_shift", f"bad-a-{label}", lambda mk=mk: ((mk(), 2.0, 1.0), {}), raises=exc))
    for label, value, exc in _REAL_BAD:
        add(Case("scale_and_shift", f"bad-scale-{label}", lambda v=value: ((_vec(3), v, 1.0), {}), raises=exc))
        add(Case("scale_and_shift", f"bad-shift-{label}", lambda v=value: ((_vec(3), 1.0, v), {}), raises=exc))

    # Accumulator ------------------------------------------------------------------------------
    def scenario(initial: Any, values: Sequence[Any]) -> Callable[[Any], Any]:
        def run(cls: Any) -> Any:
            acc = cls() if initial is None else cls(initial)
            seen = [(acc.count, acc.total, acc.mean(), repr(acc))]
            for v in values:
                assert acc.add(v) is None
                seen.append((acc.count, acc.total, acc.mean(), repr(acc)))
            return seen

        return run

    add(Case("Accumulator", "empty", scenario=scenario(None, [])))
    add(Case("Accumulator", "initial", scenario=scenario(2.5, [])))
    add(Case("Accumulator", "values", scenario=scenario(None, [1.0, 2.5, -0.125, 3, True, np.float32(0.5)])))
    add(Case("Accumulator", "initial-values", scenario=scenario(10, _vec(50, 3).tolist())))
    add(Case("Accumulator", "nan-inf", scenario=scenario(0.0, [math.inf, 1.0, -math.inf, math.nan])))
    add(Case("Accumulator", "keyword-initial", scenario=lambda cls: repr(cls(initial=4.0))))

    def acc_error(action: Callable[[Any], Any]) -> Callable[[Any], Any]:
        return lambda cls: action(cls)

    for label, value, exc in _REAL_BAD:
        add(Case("Accumulator", f"bad-initial-{label}", scenario=acc_error(lambda cls, v=value: cls(v)), raises=exc))
        add(Case("Accumulator", f"bad-add-{label}", scenario=acc_error(lambda cls, v=value: cls().add(v)), raises=exc))
    add(Case("Accumulator", "bad-set-count", scenario=acc_error(lambda cls: setattr(cls(), "count", 3)), raises=AttributeError))
    add(Case("Accumulator", "bad-set-total", scenario=acc_error(lambda cls: setattr(cls(), "total", 3.0)), raises=AttributeError))

    # haversine ----------------------------------------------------------------------------------
    points = [
        ("same-point", (40.7128, -74.0060, 40.7128, -74.0060)),
        ("ny-london", (40.7128, -74.0060, 51.5074, -0.1278)),
        ("antipodal", (0.0, 0.0, 0.0, 180.0)),
        ("near-antipodal", (45.0, 10.0, -45.0, -170.0 + 1e-9)),
        ("poles", (90.0, 0.0, -90.0, 0.0)),
        ("tiny", (10.0, 10.0, 10.0 + 1e-12, 10.0)),
        ("ints", (1, 2, 3, 4)),
        ("nan", (math.nan, 0.0, 1.0, 1.0)),
        ("inf", (math.inf, 0.0, 1.0, 1.0)),
    ]
    for label, args in points:
        add(Case("haversine_distance", label, lambda a=args: (a, {})))
    for label, value, exc in _REAL_BAD:
        add(Case("haversine_distance", f"bad-lat1-{label}", lambda v=value: ((v, 0.0, 1.0, 1.0), {}), raises=exc))
        add(Case("haversine_distance", f"bad-lon2-{label}", lambda v=value: ((0.0, 0.0, 1.0, v), {}), raises=exc))

    for n in (0, 1, 10, 2000):
        add(Case("haversine_many", f"n={n}", lambda n=n: ((40.7, -74.0, _lats(n, n), _lons(n, n)), {})))
    add(Case("haversine_many", "readonly", lambda: ((1.0, 2.0, _readonly(_lats(5, 1)), _readonly(_lons(5, 1))), {})))
    add(Case("haversine_many", "nan", lambda: ((1.0, 2.0, np.array([np.nan, 1.0]), np.array([0.0, 1.0])), {})))
    add(Case("haversine_many", "bad-length", lambda: ((1.0, 2.0, _lats(3, 1), _lons(4, 1)), {}), raises=ValueError))
    for label, mk, exc in _bad_arrays():
        add(Case("haversine_many", f"bad-lats-{label}", lambda mk=mk: ((1.0, 2.0, mk(), _lons(6, 1)), {}), raises=exc))
        add(Case("haversine_many", f"bad-lons-{label}", lambda mk=mk: ((1.0, 2.0, _lats(6, 1), mk()), {}), raises=exc))
    for label, value, exc in _REAL_BAD:
        add(Case("haversine_many", f"bad-lat-{label}", lambda v=value: ((v, 0.0, _lats(3, 1), _lons(3, 1)), {}), raises=exc))

    def nearest(n: int, k: Any, seed: int = 0) -> Callable[[], Args]:
        return lambda: ((40.7128, -74.0060, _lats(n, seed), _lons(n, seed), k), {})

    for n, k in ((1, 1), (10, 0), (10, 3), (10, 10), (5000, 5), (5000, 100)):
        add(Case("find_nearest_k", f"n={n},k={k}", nearest(n, k, n)))

    def ties() -> Args:
        lats = np.array([1.0, 0.0, 1.0, 0.0, 2.0, 1.0])
        lons = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
        return (0.0, 0.0, lats, lons, 5), {}

    def with_nan() -> Args:
        lats = _lats(20, 5)
        lats[[2, 7, 11]] = np.nan
        return (0.0, 0.0, lats, _lons(20, 5), 19), {}

    add(Case("find_nearest_k", "ties", ties))
    add(Case("find_nearest_k", "nan-last", with_nan))
    add(Case("find_nearest_k", "k-np.int64", nearest(50, np.int64(4))))
    add(Case("find_nearest_k", "bad-k>n", nearest(10, 11), raises=ValueError))
    add(Case("find_nearest_k", "bad-k-1", nearest(10, -1), raises=ValueError))
    add(Case("find_nearest_k", "bad-k-2.5", nearest(10, 2.5), raises=TypeError))
    add(Case("find_nearest_k", "bad-k-None", nearest(10, None), raises=TypeError))
    add(Case("find_nearest_k", "bad-k-2**64", nearest(10, 2**64), raises=ValueError))
    add(Case("find_nearest_k", "bad-empty-k1", nearest(0, 1), raises=ValueError))
    add(Case("find_nearest_k", "bad-length", lambda: ((0.0, 0.0, _lats(5, 1), _lons(4, 1), 2), {}), raises=ValueError))
    for label, mk, exc in _bad_arrays():
        add(Case("find_nearest_k", f"bad-lats-{label}", lambda mk=mk: ((0.0, 0.0, mk(), _lons(6, 1), 1), {}), raises=exc))
    for label, value, exc in _REAL_BAD:
        add(Case("find_nearest_k", f"bad-lon-{label}", lambda v=value: ((0.0, v, _lats(3, 1), _lons(3, 1), 1), {}), raises=exc))
    # tokenize_batch --------------------------------------------------------------------------
    for label, texts in TOKENIZE_TEXTS.items():
        add(Case("tokenize_batch", label, lambda t=texts: ((list(t),), {})))
    add(Case("tokenize_batch", "str-subclass", lambda: (([_OddStr("Hello WORLD"), _OddStr("Grüße, ﬁne")],), {})))
    add(Case("tokenize_batch", "list-subclass", lambda: ((_OddList(["Ab cd", "Éf ǅ"]),), {})))
    add(Case("tokenize_batch", "random-unicode", lambda: ((_random_texts(40, 0),), {})))
    for label, value in _TOKENIZE_BAD:
        add(Case("tokenize_batch", f"bad-{label}", lambda v=value: ((v() if callable(v) else v,), {}), raises=TypeError))
    add(Case("tokenize_batch", "bad-keyword-texts", lambda: ((), {"texts": ["a"]}), raises=TypeError))

    _lying_cases(add)

    # Calling convention: single-argument kernels are positional-only, the others take keywords.
    pos_only = {
        "sum_of_squares": ("n", 5), "circle_area": ("radius", 2.0), "primes": ("n", 10),
        "fast_sum": ("a", None), "fast_norm": ("a", None), "compute_distances": ("points", None),
    }
    for kernel, (arg, value) in pos_only.items():
        def make(arg: str = arg, value: Any = value, kernel: str = kernel) -> Args:
            if value is None:
                value = _vec(8).reshape(4, 2) if kernel == "compute_distances" else _vec(5)
            return (), {arg: value}
        add(Case(kernel, f"bad-keyword-{arg}", make, raises=TypeError))
    add(Case("Accumulator", "bad-keyword-add", scenario=lambda cls: cls().add(value=1.0), raises=TypeError))
    add(Case("scale_array", "keywords", lambda: ((), {"arr": _vec(5), "factor": 2.0})))
    add(Case("fast_dot", "keywords", lambda: ((), {"a": _vec(5), "b": _vec(5, 1)})))
    add(Case("scale_and_shift", "keywords", lambda: ((), {"a": _vec(5), "scale": 2.0, "shift": 1.0})))
    add(Case("haversine_distance", "keywords", lambda: ((), {"lat1": 1.0, "lon1": 2.0, "lat2": 3.0, "lon2": 4.0})))
    add(Case("haversine_many", "keywords", lambda: ((), {"lat": 1.0, "lon": 2.0, "lats": _lats(5, 1), "lons": _lons(5, 1)})))
    add(Case("find_nearest_k", "keywords", lambda: ((), {"lat": 1.0, "lon": 2.0, "lats": _lats(9, 1), "lons": _lons(9, 1), "k": 3})))
    return cases


#: Every verification case, in kernel order.
CASES: list[Case] = _cases()


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def _invoke(module: ModuleType, case: Case) -> tuple[Any, tuple[Any, ...]]:
    if case.scenario is not None:
        return case.scenario(module.Accumulator), ()
    args, kwargs = case.make()
    result = getattr(module, case.kernel)(*args, **kwargs)
    if kwargs:
        # Comparisons read the arguments by position (array, scale, shift ...): bind the
        # keywords to the reference's signature to get them in that order.
        from ffilab.routes import python as reference

        bound = inspect.signature(getattr(reference, case.kernel)).bind(*args, **kwargs)
        bound.apply_defaults()
        args = bound.args
    if case.kernel == "scale_array":
        # The in-place kernel's observable result is the caller's array, not the return value.
        if result is not None:
            raise AssertionError(f"scale_array returned {result!r}, expected None")
        return plain(args[0]), args
    return result, args


def run_case(module: ModuleType, case: Case, reference: ModuleType | None = None) -> Outcome:
    """Run ``case`` on ``module`` and judge it against the reference (or the contract)."""
    if reference is None:
        from ffilab.routes import python as reference
    if case.raises is not None:
        try:
            result, _ = _invoke(module, case)
        except case.raises:
            return Outcome(case.id, True)
        except Exception as exc:  # the wrong class is a failure, whatever it is
            return Outcome(case.id, False, f"raised {type(exc).__name__}: {exc}; contract says {case.raises.__name__}")
        return Outcome(case.id, False, f"returned {short_repr(result)}; contract says {case.raises.__name__}")
    try:
        if case.oracle is not None:
            args, kwargs = case.make()
            want, want_args = case.oracle(*args, **kwargs), args
        else:
            want, want_args = _invoke(reference, case)
    except Exception as exc:
        return Outcome(case.id, False, f"the reference itself raised {type(exc).__name__}: {exc}")
    try:
        got, _ = _invoke(module, case)
    except Exception as exc:
        return Outcome(case.id, False, f"raised {type(exc).__name__}: {exc}")
    problem = compare_results(case.kernel, got, want, want_args)
    return Outcome(case.id, not problem, problem)


def check_case(module: ModuleType, case: Case) -> None:
    """Assert that ``case`` passes on ``module`` (for the test suite)."""
    outcome = run_case(module, case)
    if not outcome.ok:
        raise AssertionError(f"{outcome.case}: {outcome.detail}")


def verify_route(name: str, kernels: Sequence[str] | None = None) -> list[Outcome]:
    """Run every case (or those of ``kernels``) on route ``name`` in this process."""
    import ffilab

    module = ffilab.route(name)
    selected = [c for c in CASES if kernels is None or c.kernel in kernels]
    if name == "python":
        # The reference against itself still checks every "raises" case (the contract) and
        # every oracle case; comparing its results with themselves would prove nothing.
        selected = [c for c in selected if c.raises is not None or c.oracle is not None]
    return [run_case(module, case) for case in selected]


def _worker_main(argv: Sequence[str]) -> int:
    """Entry point of the isolated worker: ``python -m ffilab.verify ROUTE [KERNEL ...]``."""
    import json

    name, kernels = argv[0], list(argv[1:]) or None
    outcomes = verify_route(name, kernels)
    json.dump([o.__dict__ for o in outcomes], sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker_main(sys.argv[1:]))
