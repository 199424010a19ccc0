#!/usr/bin/env bash
# Native safety check: build every compiled route with ASan + LSan + UBSan and run the whole test suite under them.
#
#   tools/sanitize.sh                      # venv /tmp/ffilab-asan, build dir build/sanitize
#   FFILAB_ASAN_VENV=DIR FFILAB_ASAN_BUILD_DIR=DIR FFILAB_ASAN_JOBS=N tools/sanitize.sh [PYTEST ARGS...]
#
# Exits non-zero if the build fails, a test fails, or any sanitizer report appears; the last line
# is the summary ("sanitizers: 0 reports, N tests passed").  Needs GCC's sanitizer runtimes, PyPI
# (for the build and test requirements) and CMake >= 3.18 (taken from PyPI when the system has none).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${FFILAB_ASAN_VENV:-/tmp/ffilab-asan}
build_dir=${FFILAB_ASAN_BUILD_DIR:-$repo/build/sanitize}
jobs=${FFILAB_ASAN_JOBS:-2}
python=${PYTHON:-python3}
sanitize=address,undefined
# The runtime preloaded below must be the one the modules were compiled against: build with GCC.
export CC=${CC:-gcc} CXX=${CXX:-g++}

# --- GCC's sanitizer runtimes: checked, never installed behind the user's back ------------------
# `gcc -print-file-name` echoes the bare name back when it has no such file.
libasan=$("$CC" -print-file-name=libasan.so)
libubsan=$("$CC" -print-file-name=libubsan.so)
libstdcxx=$("$CXX" -print-file-name=libstdc++.so)
if [[ ! -e $libasan || ! -e $libubsan || ! -e $libstdcxx ]]; then
  gcc_major=$("$CC" -dumpversion | cut -d. -f1)
  echo "tools/sanitize.sh: $CC lacks a runtime this check preloads (libasan.so, libubsan.so, libstdc++.so)." >&2
  echo "  On Debian/Ubuntu install it with:  apt-get install libgcc-${gcc_major}-dev libasan* libubsan*" >&2
  echo "  (libgcc-${gcc_major}-dev depends on the matching libasanN and libubsanN)" >&2
  exit 2
fi

# --- a venv of its own, so the sanitized build never replaces the normal one ----------------------
if [[ ! -x $venv/bin/python ]]; then
  "$python" -m venv "$venv"
fi
py=$venv/bin/python
export PATH=$venv/bin:$PATH
"$py" -m pip install -q --upgrade pip

# Build without isolation so that build_dir stays valid between runs (an isolated build would
# record a temporary environment's paths in the CMake cache); the build requirements are therefore
# installed from PyPI first (with the package's dependencies and test extras, all read from
# pyproject.toml), plus cmake/ninja when scikit-build-core says this machine needs them.
mapfile -t requires < <("$py" -c '
import sys, tomllib
meta = tomllib.load(open(sys.argv[1], "rb"))
project = meta["project"]
print("\n".join(meta["build-system"]["requires"] + project["dependencies"]
                + project["optional-dependencies"]["test"]))' "$repo/pyproject.toml")
"$py" -m pip install -q "${requires[@]}"
mapfile -t backend_requires < <(cd "$repo" && "$py" -c '
from scikit_build_core.build import get_requires_for_build_wheel
print("\n".join(get_requires_for_build_wheel()))')
if ((${#backend_requires[@]})); then
  "$py" -m pip install -q "${backend_requires[@]}"
fi

# RelWithDebInfo, not Release: pybind11_add_module strips its module in Release, which would
# take the line numbers out of the reports.  The code is still optimised as in the measured build:
# ffilab's -O3 comes after RelWithDebInfo's -O2 on every compile line.
echo "tools/sanitize.sh: building ffilab with -fsanitize=$sanitize into $venv (build dir $build_dir)"
"$py" -m pip install -q --no-build-isolation --force-reinstall --no-deps \
  -C cmake.define.FFILAB_SANITIZE="$sanitize" \
  -C cmake.build-type=RelWithDebInfo \
  -C build-dir="$build_dir" \
  "$repo"

# Prove the flag reached every compiled module: each must need the ASan and UBSan runtimes.
# (find_spec, not import: the modules cannot load before the runtime is preloaded below.)
site=$("$py" -c 'import importlib.util as u; print(u.find_spec("ffilab").submodule_search_locations[0])')
mapfile -t modules < <(find "$site" -name '*.so')
if ((${#modules[@]} == 0)); then
  echo "tools/sanitize.sh: no compiled module found under $site" >&2
  exit 1
fi
for so in "${modules[@]}"; do
  # The pyo3 route is compiled by rustc, whose sanitizers need a nightly toolchain: it runs
  # uninstrumented here (its allocations still go through the preloaded ASan allocator).
  [[ $so == */routes/pyo3/* ]] && continue
  needed=$(readelf -d "$so")
  if ! grep -q 'libasan' <<<"$needed" || ! grep -q 'libubsan' <<<"$needed"; then
    echo "tools/sanitize.sh: $so is not built with -fsanitize=$sanitize" >&2
    exit 1
  fi
done
echo "tools/sanitize.sh: ${#modules[@]} compiled modules carry -fsanitize=$sanitize"

# LeakSanitizer runs in every Python process of this venv from an atexit handler, while the
# interpreter is alive (see tools/lsan_live_check.py for why not at exit).
cp "$repo/tools/lsan_live_check.py" "$site/../_ffilab_lsan_live_check.py"
echo "import _ffilab_lsan_live_check" > "$site/../_ffilab_lsan_live_check.pth"

# --- the test suite under the sanitizers --------------------------------------------------------
logs=$(mktemp -d "${TMPDIR:-/tmp}/ffilab-sanitize.XXXXXX")
# ASan must be the first library loaded, and CPython itself is not built with it: preload it.
# libstdc++ too: python is a C program, so without it ASan's __cxa_throw interceptor finds no real
# __cxa_throw at start-up and the first C++ exception (pybind11, matplotlib) aborts with
# "CHECK failed: asan_interceptors.cpp ... real___cxa_throw".  The modules pull in libubsan themselves.
export LD_PRELOAD="$libasan $libstdcxx"
# CPython's own allocator hides its blocks from LSan; plain malloc makes them visible.
export PYTHONMALLOC=malloc
# Reports go to one file per process (log_path.PID), so those of subprocesses and of
# pytest-xdist workers are counted too, whoever captures their stderr.
# allocator_may_return_null: a test asking for an impossible size must see MemoryError, not an abort.
# leak_check_at_exit=0: the leak check runs earlier, from tools/lsan_live_check.py.
# fast_unwind_on_malloc=1 (ASan's default; ffilab's modules keep their frame pointers): the slow
# unwinder deadlocks when an allocation happens while libgcc's unwinder holds its lock, which
# Numba's JIT does whenever it registers a compiled function's EH frames (seen: both pytest
# workers hung in _Unwind_Find_FDE under llvm::RTDyldMemoryManager::registerEHFrames).  The cost:
# a leak's allocation stack stops at the first frame without a frame pointer (CPython's own).
# FFILAB_ASAN_SLOW_UNWIND=1 gives whole stacks, for re-running a report's tests without Numba.
unwind_fast=1
if [[ ${FFILAB_ASAN_SLOW_UNWIND:-0} == 1 ]]; then unwind_fast=0; fi
asan_options="detect_leaks=1:leak_check_at_exit=0:allocator_may_return_null=1:fast_unwind_on_malloc=$unwind_fast"
export ASAN_OPTIONS="$asan_options:log_path=$logs/asan"
export LSAN_OPTIONS="suppressions=$repo/tools/lsan.supp:print_suppressions=0"
# The tests that measure memory growth (RSS, the C heap) skip themselves under ASan, whose
# quarantine keeps freed blocks; LeakSanitizer's live check covers leaks in this run.
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
# Dask workers sample their threads' stacks every 10 ms (distributed's statistical profiler): the
# frame objects sys._current_frames() makes of running asyncio tasks are unreachable but not yet
# freed when the live leak check runs in a worker (CPython 3.11; see tools/lsan.supp).  ffilab does
# not use that profiler; turned off here, the worker process allocates none.
export DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False

# The leak check must be able to fail: a process that loses a malloc'd block is reported.
probe_logs=$(mktemp -d "${TMPDIR:-/tmp}/ffilab-sanitize-probe.XXXXXX")
ASAN_OPTIONS="$asan_options:log_path=$probe_logs/asan" "$py" -c '
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
for _ in range(64):
    ctypes.memset(libc.malloc(4096), 0, 4096)  # the pointer is dropped: lost for good
' || true
if ! grep -qs "ERROR: LeakSanitizer" "$probe_logs"/asan.*; then
  echo "tools/sanitize.sh: the leak check did not report a deliberate leak; it is not working" >&2
  exit 1
fi
echo "tools/sanitize.sh: the leak check reports a deliberate leak (probe ok)"
rm -rf "$probe_logs"

deselect=(
  # These two make a child process segfault on purpose (ctypes.string_at(0)) to test that a
  # crash is contained.  ASan turns that SIGSEGV into a report and exit status 1, so the child
  # no longer dies "by signal" and its report would be counted here; they prove pytest-xdist and
  # run_child's handling, not native code, and run in the normal suite.  Deselecting them (rather
  # than ASAN_OPTIONS=handle_segv=0) keeps ASan's stack trace for any real SEGV in a route.
  --deselect tests/test_isolation.py::test_verify_reports_a_crashed_child_by_signal
  --deselect tests/test_isolation.py::test_the_test_suite_survives_a_segfaulting_test
  # The same for the lesson's ctypes challenge run by `ffilab check --run`: its undeclared
  # restype truncates a pointer to 32 bits and the program dies of SIGSEGV reading through it
  # (in CPython's own _ctypes, never in ffilab code), which is the bug the test shows caught.
  --deselect tests/test_check.py::test_runtime_catches_the_challenge_in_a_real_run
)

echo "tools/sanitize.sh: running the test suite under ASan/LSan/UBSan (reports in $logs)"
set +e
# --timeout: the pure-Python reference's 10**8-iteration loops run several times slower under ASan
# and plain malloc than pytest-timeout's 600 s allow on 2 busy cores.
(cd "$repo" && "$py" -m pytest -p no:cacheprovider -n "$jobs" --timeout=3600 "${deselect[@]}" "$@") 2>&1 | tee "$logs/pytest.log"
test_status=${PIPESTATUS[0]}
set -e

# A report in any process's log file, or one printed straight to the output, counts.
pattern='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:'
reports=0
for f in "$logs"/asan.* "$logs"/ubsan.*; do
  [[ -e $f ]] || continue
  n=$(grep -cE "$pattern" "$f" || true)
  if ((n > 0)); then
    echo "=== $f"
    cat "$f"
  fi
  reports=$((reports + n))
done
printed=$(grep -cE "$pattern" "$logs/pytest.log" || true)
reports=$((reports + printed))
passed=$(grep -oE '[0-9]+ passed' "$logs/pytest.log" | tail -n 1 | cut -d' ' -f1)

echo "sanitizers: $reports reports, ${passed:-0} tests passed"
if ((reports > 0 || test_status != 0)); then
  exit 1
fi
