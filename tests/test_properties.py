"""Hypothesis properties: every route equals the reference on arbitrary inputs of the contract."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ffilab.verify import compare_results

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
anyfloat = st.floats(width=64)
# Magnitudes where sums can neither overflow nor lose everything to subnormals.
moderate = st.floats(min_value=-1e100, max_value=1e100, allow_nan=False)
lat = st.floats(min_value=-90, max_value=90)
lon = st.floats(min_value=-180, max_value=180)


def vectors(elements: st.SearchStrategy[float] = anyfloat, max_size: int = 200) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, st.integers(0, max_size), elements=elements)


def agree(route: ModuleType, reference: ModuleType, kernel: str, *args: Any) -> None:
    copies = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
    want = getattr(reference, kernel)(*args)
    got = getattr(route, kernel)(*copies)
    if kernel == "scale_array":
        want, got = args[0], copies[0]
    problem = compare_results(kernel, got, want, args)
    assert not problem, problem


@given(n=st.integers(0, 3000))
def test_sum_of_squares(route: ModuleType, reference: ModuleType, n: int) -> None:
    agree(route, reference, "sum_of_squares", n)


@given(n=st.integers(0, 400))
def test_primes(route: ModuleType, reference: ModuleType, n: int) -> None:
    agree(route, reference, "primes", n)


@given(r=anyfloat)
def test_circle_area(route: ModuleType, reference: ModuleType, r: float) -> None:
    agree(route, reference, "circle_area", r)


@given(a=vectors(), f=anyfloat)
def test_scale_array(route: ModuleType, reference: ModuleType, a: np.ndarray, f: float) -> None:
    agree(route, reference, "scale_array", a, f)


@given(p=hnp.arrays(np.float64, st.tuples(st.integers(0, 50), st.just(2)), elements=anyfloat))
def test_compute_distances(route: ModuleType, reference: ModuleType, p: np.ndarray) -> None:
    agree(route, reference, "compute_distances", p)


@given(a=vectors(moderate))
def test_fast_sum(route: ModuleType, reference: ModuleType, a: np.ndarray) -> None:
    agree(route, reference, "fast_sum", a)


@given(a=vectors(st.floats(min_value=-1e150, max_value=1e150)))
def test_fast_norm(route: ModuleType, reference: ModuleType, a: np.ndarray) -> None:
    agree(route, reference, "fast_norm", a)


@given(data=st.data(), n=st.integers(0, 200))
def test_fast_dot(route: ModuleType, reference: ModuleType, data: st.DataObject, n: int) -> None:
    el = st.floats(min_value=-1e100, max_value=1e100)
    a = data.draw(hnp.arrays(np.float64, n, elements=el))
    b = data.draw(hnp.arrays(np.float64, n, elements=el))
    agree(route, reference, "fast_dot", a, b)


@given(a=vectors(moderate), s=moderate, t=moderate)
def test_scale_and_shift(route: ModuleType, reference: ModuleType, a: np.ndarray, s: float, t: float) -> None:
    agree(route, reference, "scale_and_shift", a, s, t)


@given(initial=finite, values=st.lists(anyfloat, max_size=30))
def test_accumulator(route: ModuleType, reference: ModuleType, initial: float, values: list[float]) -> None:
    def run(cls: Any) -> list[str]:
        acc = cls(initial)
        states = [repr((acc.count, acc.total, acc.mean(), repr(acc)))]
        for v in values:
            acc.add(v)
            states.append(repr((acc.count, acc.total, acc.mean(), repr(acc))))
        return states

    assert run(route.Accumulator) == run(reference.Accumulator)


@given(p=st.tuples(lat, lon, lat, lon))
def test_haversine_distance(route: ModuleType, reference: ModuleType, p: tuple[float, float, float, float]) -> None:
    agree(route, reference, "haversine_distance", *p)


@given(data=st.data(), n=st.integers(0, 300), q=st.tuples(lat, lon))
def test_haversine_many(route: ModuleType, reference: ModuleType, data: st.DataObject, n: int, q: tuple[float, float]) -> None:
    lats = data.draw(hnp.arrays(np.float64, n, elements=st.floats(-90, 90)))
    lons = data.draw(hnp.arrays(np.float64, n, elements=st.floats(-180, 180)))
    agree(route, reference, "haversine_many", q[0], q[1], lats, lons)


@given(data=st.data(), n=st.integers(0, 300), q=st.tuples(lat, lon))
def test_find_nearest_k(route: ModuleType, reference: ModuleType, data: st.DataObject, n: int, q: tuple[float, float]) -> None:
    # Few distinct coordinates make exact ties likely: the index tie-break must hold.
    coords = st.sampled_from([-45.0, 0.0, 10.5, 45.0, 89.0]) | st.floats(-90, 90)
    lats = data.draw(hnp.arrays(np.float64, n, elements=coords))
    lons = data.draw(hnp.arrays(np.float64, n, elements=coords))
    k = data.draw(st.integers(0, n))
    agree(route, reference, "find_nearest_k", q[0], q[1], lats, lons, k)
