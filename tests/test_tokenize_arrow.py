"""The optional kernel ``tokenize_arrow``: every route that exports it against the reference, fuzzed and leak-checked.

The answer is ``ffilab.text.arrow.reference_tokenize_arrow``: ``pa.array`` of the pure-Python
``tokenize_batch``'s lists.  A native route must give an equal ``list<string>`` array for every
named batch of ``ffilab.verify`` (and the reference's exception class for every bad one), every
code point NFKC or case folding changes, hypothesis' arbitrary Unicode, and Arrow input as well
as lists; the C core's shortcut that folds text without Python (the NFKC quick check over the
tables of ``arrow_tables``) is checked against ``unicodedata`` directly; and the buffers a result
owns are freed when it dies.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import sys
import threading
import unicodedata
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ffilab
from ffilab import verify
from ffilab.routes import _text_glue
from ffilab.text.arrow import TOKENS_TYPE, arrow_tokenizer, reference_tokenize_arrow, routes_with_arrow

# The hypothesis strategies and the changed code points of the tokenizer's own tests, reused.
from test_tokenize import _ANY_CODE_POINT, _ANYTHING, _WORDY, _changed_code_points

from conftest import skip_under_asan

#: The routes that export tokenize_arrow (test_the_routes_with_the_kernel keeps this honest).
ARROW_ROUTES = ("capi", "pyo3")

Kernel = Callable[[Any], pa.Array]


@pytest.fixture(params=["reference", *ARROW_ROUTES])
def kernel(request: pytest.FixtureRequest) -> Kernel:
    """The reference, then each route's tokenize_arrow (skipped where the route is unavailable)."""
    if request.param == "reference":
        return reference_tokenize_arrow
    fn = arrow_tokenizer(request.param)
    if fn is None:
        try:
            ffilab.route(request.param)
        except ffilab.RouteUnavailable as exc:
            pytest.skip(str(exc))
        pytest.fail(f"route {request.param} is available but exports no tokenize_arrow")
    return fn


def assert_same(kernel: Kernel, texts: Any) -> None:
    want = reference_tokenize_arrow(texts)
    got = kernel(texts)
    assert isinstance(got, pa.Array) and got.type == TOKENS_TYPE, f"returned {type(got).__name__} {getattr(got, 'type', '')}"
    got.validate(full=True)
    if not got.equals(want):
        g, w = got.to_pylist(), want.to_pylist()
        assert len(g) == len(w), f"{len(g)} token lists for {len(w)} texts"
        i = next(i for i in range(len(w)) if g[i] != w[i])
        pytest.fail(f"text {i} {texts[i]!r}: {g[i]} != {w[i]}")


def _outcome(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        return type(exc)


# --- Which routes have it ------------------------------------------------------------------------


def test_the_routes_with_the_kernel() -> None:
    available = {r.name for r in ffilab.routes() if r.available}
    assert routes_with_arrow() == [r for r in ARROW_ROUTES if r in available]
    for name in ARROW_ROUTES:
        if name in available:  # an optional kernel stays outside __all__, which lists every route's
            assert "tokenize_arrow" not in ffilab.route(name).__all__
    assert "tokenize_arrow" in ffilab._registry.OPTIONAL_KERNELS
    assert "tokenize_arrow" not in ffilab.KERNELS


# --- The verify table: every named batch and every bad input ---------------------------------------

_CASES = [c for c in verify.CASES if c.kernel == "tokenize_batch"]


@pytest.mark.parametrize("case", _CASES, ids=[c.id for c in _CASES])
def test_verify_cases(kernel: Kernel, case: verify.Case) -> None:
    args, kwargs = case.make()
    if case.raises is not None:
        assert _outcome(reference_tokenize_arrow, args, kwargs) is case.raises
        assert _outcome(kernel, args, kwargs) is case.raises
        return
    assert_same(kernel, *args)


def test_every_named_batch_in_one_call(kernel: Kernel) -> None:
    assert_same(kernel, [t for texts in verify.TOKENIZE_TEXTS.values() for t in texts])


def test_every_changed_code_point(kernel: Kernel) -> None:
    chars = _changed_code_points()
    texts = [f"{c} a{c}b 1{c} {c}-x {c.upper()}{c}" for c in chars]
    for i in range(0, len(texts), 1000):
        assert_same(kernel, texts[i : i + 1000])
        assert_same(kernel, pa.array(texts[i : i + 1000]))


# --- Arrow input --------------------------------------------------------------------------------


def test_arrow_input_of_every_string_type(kernel: Kernel) -> None:
    texts = [t for texts in verify.TOKENIZE_TEXTS.values() for t in texts if "\ud800" not in t and "\udbff" not in t]
    want = reference_tokenize_arrow(texts)
    for arr in (pa.array(texts, pa.string()), pa.array(texts, pa.large_string())):
        assert kernel(arr).equals(want)
        # A slice reads its parent's buffers from an offset.
        assert kernel(arr.slice(3, 7)).equals(want.slice(3, 7))
    assert kernel(pa.array([], pa.string())).equals(pa.array([], TOKENS_TYPE))


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda: pa.array(["a", None, "b"]), id="null"),
        pytest.param(lambda: pa.array(["a", "b", None]).slice(1), id="null-in-slice"),
        pytest.param(lambda: pa.array([1, 2]), id="int-array"),
        pytest.param(lambda: pa.array([b"a"]), id="binary-array"),
        pytest.param(lambda: pa.array(["a"]).dictionary_encode(), id="dictionary"),
        pytest.param(lambda: pa.chunked_array([["a"]]), id="chunked"),
        pytest.param(lambda: pa.array([["a"]]), id="list-array"),
    ],
)
def test_bad_arrow_input(kernel: Kernel, bad: Callable[[], Any]) -> None:
    with pytest.raises(TypeError):
        kernel(bad())


def test_a_slice_without_its_null(kernel: Kernel) -> None:
    arr = pa.array([None, "Grüße aus Köln", "Don't 12"]).slice(1)
    assert_same(kernel, arr)


# --- Fuzzing: hypothesis over arbitrary Unicode, as tests/test_tokenize.py does ---------------------


@given(st.lists(st.text(max_size=80), max_size=12))
def test_arbitrary_text(kernel: Kernel, texts: list[str]) -> None:
    assert_same(kernel, texts)


@given(st.lists(st.text(alphabet=_ANY_CODE_POINT | _WORDY, max_size=60), max_size=8))
def test_arbitrary_code_points(kernel: Kernel, texts: list[str]) -> None:
    assert_same(kernel, texts)


@given(st.lists(st.text(alphabet=st.characters(codec="utf-8") | _WORDY, max_size=60), max_size=8))
def test_arbitrary_code_points_from_arrow(kernel: Kernel, texts: list[str]) -> None:
    assert_same(kernel, pa.array(texts, pa.string()))


@given(st.lists(_ANYTHING, max_size=6) | _ANYTHING)
def test_anything_as_the_batch(kernel: Kernel, batch: object) -> None:
    want = _outcome(reference_tokenize_arrow, (batch,), {})
    got = _outcome(kernel, (batch,), {})
    if isinstance(want, type):
        assert got is want
    else:
        assert isinstance(got, pa.Array) and got.equals(want)


# --- Behaviour ----------------------------------------------------------------------------------


def test_a_large_mixed_batch(kernel: Kernel) -> None:
    lines = ["In the beginning God created the heaven and the earth.", "Die Straße ist 1234 m lang — schön!",
             "Η γλώσσα είναι ΩΡΑΙΑ", "東京は日本の首都です。", "I \u2764\ufe0f \U0001f468\u200d\U0001f469 emoji",
             "Don't stop-believing, it's 2024.", "", "x" * 70 + " 12345678901234567890 ok", "नमस्ते दुनिया ﬁne"]
    texts = [f"{lines[i % len(lines)]} #{i}" for i in range(5000)]
    assert_same(kernel, texts)
    assert_same(kernel, pa.array(texts))


def test_the_result_outlives_its_input(kernel: Kernel) -> None:
    texts = [f"Grüße {i} aus Köln, don't ﬁne" for i in range(100)]
    want = reference_tokenize_arrow(texts)
    arr = pa.array(texts)
    got = kernel(arr)
    del arr, texts
    gc.collect()
    assert got.equals(want)


def test_threads_share_one_batch(kernel: Kernel) -> None:
    texts = [f"Grüße {i} aus Köln, don't ﬁne ＦＵＬＬ" for i in range(2000)]
    want = reference_tokenize_arrow(texts)
    results: list[pa.Array] = []

    def work() -> None:
        results.append(kernel(texts))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(r.equals(want) for r in results)


def test_no_reference_leak_on_errors(kernel: Kernel) -> None:
    text = "unique text " + "x" * 10
    before = sys.getrefcount(text)
    for _ in range(100):
        with pytest.raises(TypeError):
            kernel([text, 1])
    assert sys.getrefcount(text) == before


# --- The C core's NFKC shortcut against unicodedata ------------------------------------------------


class _FoldTables(ctypes.Structure):
    """ffl_fold_tables of csrc/ffilab_tokenize_arrow.h."""

    _fields_ = [("classes", ctypes.c_char_p), ("inert", ctypes.c_char_p), ("fold_keys", ctypes.c_char_p),
                ("fold_values", ctypes.c_char_p), ("n_fold", ctypes.c_int64), ("compat_keys", ctypes.c_char_p),
                ("compat_offsets", ctypes.c_char_p), ("compat_pool", ctypes.c_char_p), ("n_compat", ctypes.c_int64)]


@functools.cache
def _core_fold() -> Callable[[str], str | None]:
    """ffl_tokarrow_fold of libffilab_core.so: the folding C proves without Python, or None.

    Every text is tried as UTF-32 and as UTF-8, which must agree.
    """
    from ffilab.routes._core_library import core_library_path

    lib = ctypes.CDLL(str(core_library_path()))
    fn = lib.ffl_tokarrow_fold
    fn.restype = ctypes.c_int64
    fn.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.POINTER(_FoldTables), ctypes.c_void_p,
                   ctypes.c_int64, ctypes.c_void_p]
    tables = _text_glue.arrow_tables()
    keep = (ffilab.contract.char_classes(), *tables)  # the bytes the struct points into
    ft = _FoldTables(keep[0], tables.inert, tables.fold_keys, tables.fold_values, len(tables.fold_keys) // 4,
                     tables.compat_keys, tables.compat_offsets, tables.compat_pool, len(tables.compat_keys) // 4)

    def fold(text: str) -> str | None:
        data = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        room = 3 * len(text) + 64
        out = np.zeros(room, dtype=np.uint32)
        n = fn(data.ctypes.data, 4, len(text), ctypes.byref(ft), out.ctypes.data, room, None)
        if n < 0:
            return None
        got = out[:n].tobytes().decode("utf-32-le", "surrogatepass")
        assert keep  # alive while the struct is used
        if any(0xD800 <= ord(c) < 0xE000 for c in text):
            return got  # no UTF-8 for a lone surrogate
        utf8 = text.encode("utf-8")
        room8 = 3 * len(utf8) + 64
        out8 = np.zeros(room8, dtype=np.uint32)
        same = ctypes.c_int(0)
        n8 = fn(utf8, 0, len(utf8), ctypes.byref(ft), out8.ctypes.data, room8, ctypes.byref(same))
        assert n8 >= 0
        assert (text if same.value else out8[:n8].tobytes().decode("utf-32-le")) == got
        return got

    return fold


def _inert_alphabet() -> list[str]:
    """Inert code points where normalisation is busy: marks, Hangul, Latin with diacritics, Indic."""
    inert = _text_glue.arrow_tables().inert
    ranges = [(0x00C0, 0x0250), (0x0300, 0x0370), (0x0590, 0x0700), (0x0900, 0x0E00), (0x1100, 0x1200),
              (0x1E00, 0x1F00), (0x3040, 0x3100), (0xAC00, 0xAC40)]
    return [chr(cp) for a, z in ranges for cp in range(a, z) if inert[cp]]


def test_the_quick_check_tables_agree_with_unicodedata() -> None:
    tables = _text_glue.arrow_tables()
    classes = ffilab.contract.char_classes()
    compat = dict(zip(np.frombuffer(tables.compat_keys, dtype="<u4").tolist(),
                      np.frombuffer(tables.compat_offsets, dtype="<u4").tolist()))
    pool = np.frombuffer(tables.compat_pool, dtype="<u4").tolist()
    offsets = np.frombuffer(tables.compat_offsets, dtype="<u4").tolist()
    for k, cp in enumerate(np.frombuffer(tables.compat_keys, dtype="<u4").tolist()):
        # A replaced compatibility character: its entry is its NFKC, made of inert code points.
        m = "".join(map(chr, pool[offsets[k] : offsets[k + 1]]))
        assert tables.inert[cp] == _text_glue.INERT_REPLACED and unicodedata.normalize("NFKC", chr(cp)) == m, hex(cp)
        assert all(0 < tables.inert[ord(x)] < _text_glue.INERT_REPLACED for x in m)
    for cp in range(0x110000):
        v = tables.inert[cp]
        if v == _text_glue.INERT_REPLACED:
            assert cp in compat
        elif v:  # inert: its own NFKC, with its combining class
            c = chr(cp)
            assert unicodedata.normalize("NFKC", c) == c and v - 1 == unicodedata.combining(c), hex(cp)
    keys = np.frombuffer(tables.fold_keys, dtype="<u4")
    values = np.frombuffer(tables.fold_values, dtype="<u4").reshape(-1, 4)
    assert (np.diff(keys.astype(np.int64)) > 0).all()
    for cp, row in zip(keys.tolist(), values.tolist()):
        assert not classes[cp] & ffilab.contract.CHAR_FOLDED
        assert "".join(map(chr, row[1 : 1 + row[0]])) == chr(cp).casefold()


def test_the_c_folding_of_every_code_point() -> None:
    # Every code point the tables call foldable, each after a space (an inert starter, which
    # keeps it from interacting with the one before), a thousand to a text: C must fold each
    # text, exactly as Python's NFKC and casefold do.
    fold = _core_fold()
    inert = _text_glue.arrow_tables().inert
    chars = [chr(cp) for cp in range(0x110000) if inert[cp] and not 0xD800 <= cp < 0xE000]
    assert len(chars) > 1_000_000  # the shortcut covers nearly every code point
    for i in range(0, len(chars), 1000):
        text = " " + " ".join(chars[i : i + 1000])
        assert fold(text) == unicodedata.normalize("NFKC", text).casefold(), f"code points from {ord(chars[i]):#x}"
    assert fold("ﬁＨ①") == "fih1"  # replaced compatibility characters
    assert fold("\u0301") is None  # not inert: Python's job
    assert fold("a\ud800") == "a\ud800"  # a lone surrogate is its own NFKC (and never in a token)


@given(st.lists(st.sampled_from(_inert_alphabet())
                | st.sampled_from(list("aZ \u0301\u0323\u0307\u094d\u093c\u05b0ﬁＨｈ①ǅ㎞ﾞﾟｶ\u1161\u11a8ᄀ가")), max_size=12))
def test_the_c_folding_of_sequences(chars: list[str]) -> None:
    # Whenever C claims a text is its own NFKC, Python's normalize must agree, whatever the marks'
    # order, the Hangul jamo or the precomposed letters next to combining marks.
    text = "".join(chars)
    got = _core_fold()(text)
    if got is not None:
        assert got == unicodedata.normalize("NFKC", text).casefold()


def test_the_c_folding_refuses_what_needs_python() -> None:
    fold = _core_fold()
    assert fold("e\u0301") is None  # composes to é
    assert fold("a\u0323\u0302") is None  # a mark that composes
    assert fold("\u05b0\u0591") == "\u05b0\u0591"  # marks in canonical order (10, then 220)
    assert fold("\u0591\u05b0") is None  # 220 then 10: out of order, NFKC reorders them
    assert fold("\u1100\u1161") is None  # Hangul L + V compose
    assert fold("Ｈ\u0307") is None  # a replaced character followed by a mark: Ḣ composes
    assert fold("ｶﾞ") is None  # halfwidth voiced mark: ガ composes
    assert fold("Straße") == "strasse" and fold("ΣΊΣ") == "σίσ" and fold("가각") == "가각"


class _TokArrow(ctypes.Structure):
    """ffl_tokarrow of csrc/ffilab_tokenize_arrow.h."""

    _fields_ = [("bytes", ctypes.c_void_p), ("n_bytes", ctypes.c_int64), ("bytes_cap", ctypes.c_int64),
                ("token_offsets", ctypes.c_void_p), ("n_tokens", ctypes.c_int64), ("tokens_cap", ctypes.c_int64),
                ("list_offsets", ctypes.c_void_p), ("n_lists", ctypes.c_int64), ("lists_cap", ctypes.c_int64),
                ("masks", ctypes.c_void_p), ("masks_cap", ctypes.c_int64), ("tmp", ctypes.c_void_p),
                ("tmp_cap", ctypes.c_int64)]


def test_the_core_refuses_a_batch_past_2_gib() -> None:
    # list<string> has int32 offsets: a text that could carry the batch's tokens past 2 GiB is
    # refused (-FFL_EOVERFLOW, OverflowError in the bindings) before anything is written.  The
    # batch's size is set by hand: 2 GiB of real tokens is no test to run a thousand times.
    from ffilab.routes._core_library import core_library_path

    lib = ctypes.CDLL(str(core_library_path()))
    append, free = lib.ffl_tokarrow_append, lib.ffl_tokarrow_free
    append.restype = ctypes.c_int
    append.argtypes = [ctypes.POINTER(_TokArrow), ctypes.c_char_p, ctypes.c_int, ctypes.c_int64, ctypes.c_int,
                       ctypes.c_char_p, ctypes.c_int64, ctypes.c_char_p, ctypes.c_int64]
    free.argtypes = [ctypes.POINTER(_TokArrow)]
    classes = ffilab.contract.char_classes()
    b = _TokArrow()
    text = b"hello world 12"
    assert append(ctypes.byref(b), text, 1, len(text), 1, classes, 64, b"<num>", 5) == 0
    assert (b.n_lists, b.n_tokens) == (1, 3)
    kept = (b.n_bytes, b.n_tokens, b.n_lists)
    b.n_bytes = 2**31 - 40  # as if the batch already held that much
    assert append(ctypes.byref(b), text, 1, len(text), 1, classes, 64, b"<num>", 5) == -2  # -FFL_EOVERFLOW
    assert (b.n_tokens, b.n_lists) == kept[1:]  # nothing appended
    b.n_bytes = kept[0]
    assert append(ctypes.byref(b), b"x", 3, 1, 0, classes, 64, b"<num>", 5) == -1  # a bad kind: -FFL_EINVAL
    free(ctypes.byref(b))
    assert not b.bytes and b.n_lists == 0


# --- Leaks: the buffers' owner is freed when the array dies ----------------------------------------


@skip_under_asan
def test_no_growth_over_repeated_calls(kernel: Kernel) -> None:
    from test_leaks import _growth

    texts = [f"Grüße aus Köln {i}, don't ﬁne ΣΊΣΥΦΟΣ" if i % 3 == 0 else f"Plain ASCII text number {i}" for i in range(10_000)]
    arr = pa.array(texts)

    def step(i: int) -> None:
        kernel(texts if i % 2 else arr)
        try:
            kernel([texts[0], None])
        except TypeError:
            pass

    deltas = _growth(step, warmup=3, iterations=10)
    heap = [d[1] for d in deltas]
    blocks = [d[0] for d in deltas]
    # One leaked result (its tokens' bytes and offsets: over 300 KB here) per call would grow
    # every round by ten of them, and one leaked scratch block of the scan (a few hundred bytes
    # at least: the masks of the longest text) by ten of those; allow less than that.
    assert min(heap) < 2048, f"the C heap grew by {heap} bytes in rounds of 10 calls"
    assert min(blocks) <= 10, f"allocated blocks grew by {blocks}"
