"""Shared fixtures: the registry's routes as parameters, the reference, hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, settings

import ffilab

# CI runs derandomized (reproducible) examples; `HYPOTHESIS_PROFILE=long` explores further.
# The `route` fixture is function-scoped but stateless (a module), so reusing it across
# examples is safe.
_quiet = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
settings.register_profile("ci", derandomize=True, max_examples=60, deadline=None, suppress_health_check=_quiet)
settings.register_profile("dev", max_examples=60, deadline=None, suppress_health_check=_quiet)
settings.register_profile("long", max_examples=5000, deadline=None, suppress_health_check=_quiet)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROUTE_NAMES = [spec.name for spec in ffilab.ROUTES]

#: True under tools/sanitize.sh, which preloads AddressSanitizer.  Its allocator keeps freed blocks
#: in a quarantine and does not return them, so memory growth (RSS, the C heap) cannot be measured
#: there; LeakSanitizer checks that run for leaks instead.
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")
skip_under_asan = pytest.mark.skipif(
    UNDER_ASAN, reason="memory growth is not measurable under ASan's quarantine; LeakSanitizer checks leaks in that run"
)


def load_route(name: str) -> ModuleType:
    """Return the route module, or skip the test with the reason it is unavailable.

    ``test_registry.py::test_every_route_is_available`` is what fails when a route is missing;
    the per-kernel tests skip so the report shows one clear cause instead of hundreds.
    """
    try:
        return ffilab.route(name)
    except ffilab.RouteUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """ffilab's cache directory ($FFILAB_CACHE_DIR), shared by every xdist worker of this run (the cache is written atomically)."""
    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    path = root / "ffilab-cache"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FFILAB_CACHE_DIR", str(path))
        yield path


@pytest.fixture(params=ROUTE_NAMES)
def route(request: pytest.FixtureRequest) -> ModuleType:
    """Each route of the registry in turn."""
    return load_route(request.param)


@pytest.fixture()
def reference() -> ModuleType:
    """The pure-Python reference route."""
    return ffilab.route("python")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the reference compared with itself.

    A test that takes both ``route`` and ``reference`` compares the two; with ``route`` the
    reference too, it could never fail.  (The reference is held to the contract by the verify
    cases that name an exception class or an oracle, see ``ffilab.verify.verify_route``.)
    """
    selfish = [
        item
        for item in items
        if "reference" in getattr(item, "fixturenames", ())
        and getattr(getattr(item, "callspec", None), "params", {}).get("route") == "python"
    ]
    if selfish:
        config.hook.pytest_deselected(items=selfish)
        dropped = set(map(id, selfish))
        items[:] = [item for item in items if id(item) not in dropped]
