"""Type stub of ``ffilab.nearest._core``, the compiled exact nearest-places engines (``_core.cpp``, the CPython binding of ``_engine.cpp``)."""

from typing import SupportsFloat, SupportsIndex

import numpy as np
import numpy.typing as npt

_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]

#: Width of the chord band (in squared-chord units) that provably holds every exact answer.
MARGIN: float

class Index:
    """An exact nearest-places engine: the fused brute-force scan, or a k-d tree (``tree=True``)."""

    def __new__(
        cls, lats: _F64, lons: _F64, *, tree: bool = False, leaf_size: int = 16, threads: int = 1
    ) -> Index: ...
    def query(
        self, lat: SupportsFloat, lon: SupportsFloat, k: SupportsIndex, threads: int = 1
    ) -> tuple[_I64, _F64]: ...
    def query_many(self, lats: _F64, lons: _F64, k: SupportsIndex, threads: int = 1) -> tuple[_I64, _F64]: ...
    @property
    def n(self) -> int: ...
    @property
    def is_tree(self) -> bool: ...
    @property
    def nodes(self) -> int: ...
    @property
    def nbytes(self) -> int: ...
