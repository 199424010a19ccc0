"""The Arrow-native tokenizer ``tokenize_arrow``: its reference, its input rules and the routes that have it.

``tokenize_batch`` (every route) returns the lesson's list of lists of str; at CPython's
object-creation floor most of its time goes into making one ``str`` per token, which a pipeline
writing Parquet then converts back into Arrow.  ``tokenize_arrow`` is the optional kernel
(``ffilab._registry.OPTIONAL_KERNELS``) that skips both: the same tokens, as a pyarrow array of
type ``list<string>`` whose buffers (the tokens' UTF-8, their offsets, the lists' offsets) a
native route writes itself and hands to pyarrow without a copy.

Why ``list<string>`` rather than ``large_list<large_string>``: it is the type of the pipeline's
Parquet column (no cast), its offsets are half the size, and one batch is far below the 2 GiB its
32-bit offsets address (a native route refuses a batch that could pass them with OverflowError).

The answer is defined here, by the reference: ``pa.array(tokenize_batch(texts), type=TOKENS_TYPE)``
with the pure-Python route's ``tokenize_batch``.  Input is what ``tokenize_batch`` takes (a list of
str) or an Arrow array of strings (``string`` or ``large_string``, e.g. a Parquet column as read),
whose records are its texts; anything else, a non-str element or a null, is a TypeError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

import ffilab
from ffilab import contract
from ffilab.routes import python as _reference

__all__ = ["KERNEL", "TOKENS_TYPE", "arrow_texts", "arrow_tokenizer", "reference_tokenize_arrow", "routes_with_arrow"]

#: The optional kernel's name.
KERNEL = "tokenize_arrow"
#: The type of every ``tokenize_arrow`` result (and of the pipeline's ``tokens`` column).
TOKENS_TYPE = pa.list_(pa.string())

ArrowTokenizer = Callable[[Any], pa.Array]


def arrow_texts(func: str, texts: Any) -> list[str]:
    """Return the texts of ``texts`` as a list of str, or raise TypeError as the kernels do.

    Parameters
    ----------
    func : str
        The kernel's name, for messages.
    texts : list of str, or an Arrow array of strings
        A list is checked as ``tokenize_batch`` checks it (``contract.check_texts``); an object
        with ``__arrow_c_array__`` (a pyarrow array, or any producer of the Arrow PyCapsule
        interface) must hold ``string`` or ``large_string`` values without nulls.
    """
    if isinstance(texts, list):
        return contract.check_texts(func, texts)
    if not hasattr(texts, "__arrow_c_array__"):
        raise TypeError(f"{func}: texts must be a list of str, got {type(texts).__name__}")
    arr = pa.array(texts)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        raise TypeError(f"{func}: texts must be a list of str or an Arrow array of strings, got Arrow type {arr.type}")
    if arr.null_count:
        first = arr.is_null().to_pylist().index(True)
        raise TypeError(f"{func}: texts[{first}] must be str, got NoneType")
    out: list[str] = arr.to_pylist()
    return out


def reference_tokenize_arrow(texts: Any, /) -> pa.Array:
    """Return the tokens of every text as a ``list<string>`` array: the answer every route must give.

    ``pa.array(tokenize_batch(texts), type=TOKENS_TYPE)`` with the reference route's
    ``tokenize_batch``; ``texts`` as :func:`arrow_texts` reads it.
    """
    return pa.array(_reference.tokenize_batch(arrow_texts(KERNEL, texts)), type=TOKENS_TYPE)


def arrow_tokenizer(route: str) -> ArrowTokenizer | None:
    """Return route ``route``'s ``tokenize_arrow``, or None when it has none or is unavailable."""
    try:
        module = ffilab.route(route)
    except (KeyError, ffilab.RouteUnavailable):
        return None
    fn = getattr(module, KERNEL, None)
    return fn if callable(fn) else None


def routes_with_arrow() -> list[str]:
    """Return the names of the available routes that export ``tokenize_arrow``, in registry order."""
    return [spec.name for spec in ffilab.ROUTES if arrow_tokenizer(spec.name) is not None]
