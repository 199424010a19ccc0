"""The tokenizer contract (kernel ``tokenize_batch``): the reference's own behaviour, then every route against it.

``ffilab.verify`` holds the named cases (adversarial batches and bad input, run by
``test_kernels.py`` and ``test_leaks.py`` on every route); this file adds what is too large for a
case run a thousand times: every code point that NFKC or case folding changes, hypothesis over
arbitrary Unicode (lone surrogates included), a large batch, and threads sharing a batch.

Unicode's own NormalizationTest.txt is not shipped by any package installable here (CPython's
and unicodedata2's tests download it); it checks a normaliser, and every route leaves
normalisation to the interpreter's ``unicodedata``.  What a route can get wrong is everything
around it (which texts it normalises, how it reads the result, how it scans and slices), which
the exhaustive pass over changed code points below exercises for every character concerned.
"""

from __future__ import annotations

import functools
import sys
import threading
import unicodedata
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ffilab import contract
from ffilab.routes import python as reference
from ffilab.verify import TOKENIZE_TEXTS, compare_results


def assert_same(route: ModuleType, texts: list[str]) -> None:
    want = reference.tokenize_batch(texts)
    got = route.tokenize_batch(texts)
    problem = compare_results("tokenize_batch", got, want, (texts,))
    assert not problem, problem


# --- The reference: the contract in examples (hand-written expectations) ---------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Straße", ["strasse"]),  # casefold, not lower
        ("Don't stop-believing", ["don't", "stop-believing"]),
        ("state-of-the-art", ["state-of-the-art"]),
        ("don\u2019t", ["don\u2019t"]),  # the typographic apostrophe joins too
        ("'quoted' -dash- a--b a-'b", ["quoted", "dash", "a", "b", "a", "b"]),
        ("In 1611, 40 men", ["in", "<num>", "<num>", "men"]),
        ("1_000 a1 1-2", ["1_000", "a1", "1-2"]),  # only digits-only tokens become <num>
        ("ﬁne ＦＵＬＬ", ["fine", "full"]),  # NFKC: ligature, fullwidth forms
        ("① ² ½", ["<num>", "<num>", "<num>", "<num>"]),  # ½ -> 1⁄2: FRACTION SLASH splits
        ("ΣΊΣΥΦΟΣ", ["σίσυφοσ"]),  # casefold maps final sigma to sigma
        ("नमस्ते", ["नमस्ते"]),  # marks are word characters: Devanagari words stay whole
        ("İ", ["i\u0307"]),
        ("x\u200dy \U0001f468\u200d\U0001f469", ["x\u200dy"]),  # ZWJ joins words, emoji are not words
        ("a" * 64 + " " + "b" * 65, ["a" * 64]),  # longer than TOKEN_MAX_CHARS: dropped
        ("\ud800abc", ["abc"]),
        ("", []),
    ],
)
def test_reference_examples(text: str, tokens: list[str]) -> None:
    assert reference.tokenize_batch([text]) == [tokens]


def test_contract_constants_agree_with_the_class_table() -> None:
    table = contract.char_classes()
    assert len(table) == 0x110000
    word, digit, joiner, folded = contract.CHAR_WORD, contract.CHAR_DIGIT, contract.CHAR_JOINER, contract.CHAR_FOLDED
    assert table[ord("a")] == word | folded
    assert table[ord("A")] == word  # "A".casefold() == "a"
    assert table[ord("7")] == word | digit | folded
    assert table[ord("_")] == word | folded
    assert table[0x0301] == word | folded  # combining acute: a mark
    assert table[ord("ß")] == word  # folds to "ss"
    for c in contract.TOKEN_JOINERS:
        assert table[ord(c)] == joiner | folded
    assert table[ord(" ")] == table[0xD800] == table[0x1F600] == folded
    # The table is derived from the reference's own predicates, code point by code point.
    for cp in range(0, 0x110000, 97):
        c = chr(cp)
        assert bool(table[cp] & word) == contract.is_word_char(c)
        assert bool(table[cp] & digit) == c.isdigit()
        assert bool(table[cp] & folded) == (c.casefold() == c)


def test_lesson_amdahl_arithmetic() -> None:
    # The lesson: "overall speedup = 1 / (0.30 + 0.70/20) = 2.86x".  The expression is 2.985;
    # 2.86 = 1 / 0.35 would need a 14x tokenizer.  ffilab's pipeline reports the correct value.
    assert round(1 / (0.30 + 0.70 / 20), 3) == 2.985
    assert round(1 / (0.30 + 0.70 / 14), 2) == 2.86


# --- Every route against the reference --------------------------------------------------------


@functools.cache
def _changed_code_points() -> list[str]:
    """Every code point whose NFKC or case folding differs from itself (a few thousand)."""
    out = []
    for cp in range(0x110000):
        c = chr(cp)
        if 0xD800 <= cp < 0xE000:
            continue
        if unicodedata.normalize("NFKC", c) != c or c.casefold() != c:
            out.append(c)
    return out


def test_every_changed_code_point(route: ModuleType) -> None:
    chars = _changed_code_points()
    assert len(chars) > 5000
    # Each character alone, inside a word, after a digit and next to a joiner, in batches.
    texts = [f"{c} a{c}b 1{c} {c}-x {c.upper()}{c}" for c in chars]
    for i in range(0, len(texts), 1000):
        assert_same(route, texts[i : i + 1000])


def test_every_named_batch_in_one_call(route: ModuleType) -> None:
    assert_same(route, [t for texts in TOKENIZE_TEXTS.values() for t in texts])


@given(st.lists(st.text(max_size=80), max_size=12))
def test_arbitrary_text(route: ModuleType, texts: list[str]) -> None:
    assert_same(route, texts)


_ANY_CODE_POINT = st.characters(codec=None, exclude_categories=())  # surrogates and unassigned too
_WORDY = st.sampled_from(list("aZ9_'-\u2019\u2010\u200c\u200d ²ﬁＡßİΣ\u0301\u0915\u094d"))


@given(st.lists(st.text(alphabet=_ANY_CODE_POINT | _WORDY, max_size=60), max_size=8))
def test_arbitrary_code_points(route: ModuleType, texts: list[str]) -> None:
    assert_same(route, texts)


_ANYTHING = (
    st.text(max_size=20)
    | st.binary(max_size=5)
    | st.integers()
    | st.none()
    | st.floats()
    | st.lists(st.text(max_size=3), max_size=2)
    | st.tuples(st.text(max_size=3))
)


def _outcome(fn: object, arg: object) -> object:
    try:
        return fn(arg)  # type: ignore[operator]
    except Exception as exc:
        return type(exc)


@given(st.lists(_ANYTHING, max_size=6) | _ANYTHING)
def test_anything_as_the_batch(route: ModuleType, batch: object) -> None:
    # Whatever the argument, the route answers as the reference does: the same tokens, or an
    # exception of the same class (TypeError for a non-list or a non-str element).
    want = _outcome(reference.tokenize_batch, batch)
    got = _outcome(route.tokenize_batch, batch)
    if isinstance(want, type):
        assert got is want
    else:
        assert not compare_results("tokenize_batch", got, want, (batch,))


def test_a_large_mixed_batch(route: ModuleType) -> None:
    lines = [
        "In the beginning God created the heaven and the earth.",
        "Die Straße ist 1234 m lang — schön!",
        "Η γλώσσα είναι ΩΡΑΙΑ",
        "東京は日本の首都です。",
        "I \u2764\ufe0f \U0001f468\u200d\U0001f469 emoji",
        "Don't stop-believing, it's 2024.",
        "",
    ]
    assert_same(route, [f"{line} #{i}" for i in range(3000) for line in lines[i % 7 : i % 7 + 1]])


def test_the_input_list_is_left_unchanged(route: ModuleType) -> None:
    texts = ["Ab Cd", "Éf ǅ", ""]
    before = list(texts)
    route.tokenize_batch(texts)
    assert texts == before and all(type(t) is str for t in texts)


def test_results_do_not_share_mutable_lists(route: ModuleType) -> None:
    out = route.tokenize_batch(["a b", "a b"])
    out[0].append("x")
    assert out[1] == ["a", "b"]


def test_threads_share_one_batch(route: ModuleType) -> None:
    texts = [f"Grüße {i} aus Köln, don't ﬁne" for i in range(2000)]
    want = reference.tokenize_batch(texts)
    results: list[object] = []

    def work() -> None:
        results.append(route.tokenize_batch(texts))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [want] * 4


def test_no_reference_leak_on_errors(route: ModuleType) -> None:
    # A text's reference count is back where it was after a call that fails on a later item.
    text = "unique text " + "x" * 10
    before = sys.getrefcount(text)
    for _ in range(100):
        with pytest.raises(TypeError):
            route.tokenize_batch([text, 1])
    assert sys.getrefcount(text) == before
