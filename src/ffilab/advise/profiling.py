"""Run the user's program in a child process (cProfile, recording, or a swapped function) and read its profile.

The profile answers the lesson's first questions from data: which functions are hot, how much of
the run each takes (p), how many calls, and whether the time is waiting (sleep, I/O, locks:
recognised by the callee names in the profile), inside NumPy, many tiny calls or heavy work per call.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import pstats
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "TINY_CALL_S",
    "FunctionStat",
    "Profile",
    "ProgramError",
    "RunResult",
    "analyse",
    "classify",
    "load_profile",
    "parse_command",
    "profiler_bias",
    "run_program",
]

#: A function whose calls take less than this each is "many tiny calls": a route's call overhead
#: (the lesson's ~1 us for ctypes) is then 10 % or more of its work, so the overhead decides.
TINY_CALL_S = 10e-6

#: Builtin callees (cProfile's names) whose time is waiting, not computing.
_WAITING = ("time.sleep", "select.", "posix.read", "posix.write", "posix.wait", "io.open", "of '_io.",
            "_socket", "_ssl.", "'_thread.lock'", "'_thread.RLock'", "_thread.lock", "_queue.", "posix.stat",
            "posix.listdir", "posix.scandir", "builtins.input", "_posixsubprocess", "'select.", "_overlapped")

_RUNNER = Path(__file__).with_name("_runner.py")


class ProgramError(Exception):
    """The program could not be run, or the profile could not be read: one line for the user."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class RunResult:
    """What the runner reports of one run: exit status, wall and CPU time, records, swaps."""

    status: int
    wall_s: float
    cpu_s: float
    records: list[dict[str, Any]] = field(default_factory=list)
    swapped: list[str] = field(default_factory=list)
    timed: list[dict[str, Any]] = field(default_factory=list)
    profiler_bias: tuple[float, float] | None = None
    stdout: bytes = b""
    stderr: bytes = b""


def parse_command(command: list[str]) -> tuple[str, list[str]]:
    """Split ``python script.py ARGS`` (or ``script.py ARGS``, ``python -m mod ARGS``) into interpreter and argv.

    Raises
    ------
    ProgramError
        No command, an interpreter that is not found, or a script that does not exist.
    """
    if not command:
        raise ProgramError("no program given: expected `-- python script.py ARGS`")
    first = command[0]
    if first.endswith(".py") or (os.path.sep in first and not os.path.basename(first).startswith("python")):
        python, argv = sys.executable, command
    else:
        found = shutil.which(first)
        if found is None:
            raise ProgramError(f"interpreter not found: {first!r} (expected `python script.py ARGS`)")
        python, argv = found, command[1:]
    if not argv:
        raise ProgramError(f"no script given to {first}: expected `{first} script.py ARGS`")
    if argv[0] == "-m":
        if len(argv) < 2:
            raise ProgramError("-m needs a module name: `python -m module ARGS`")
    elif argv[0].startswith("-"):
        raise ProgramError(f"unsupported interpreter option {argv[0]!r}: give `python script.py ARGS` or `python -m module ARGS`")
    elif not Path(argv[0]).is_file():
        raise ProgramError(f"program not found: {argv[0]} (no such file)")
    return python, argv


def run_program(command: list[str], workdir: Path, *, profile: Path | None = None,
                record: list[dict[str, Any]] | None = None, swap: list[dict[str, Any]] | None = None,
                time: list[dict[str, Any]] | None = None, quiet: bool = False, stdout_to_stderr: bool = False) -> RunResult:
    """Run the program of ``command`` once in a child process, its output and exit status passing through.

    Parameters
    ----------
    command : list of str
        ``python script.py ARGS`` (see :func:`parse_command`).
    workdir : Path
        A private directory for the runner's spec and result files.
    profile : Path, optional
        Write a cProfile (pstats) file of the run here.
    record : list of dict, optional
        Functions whose arguments to record (``file``, ``name``, ``line``, ``limit``, ``out``).
    swap : list of dict, optional
        Functions to replace (``file``, ``name``, ``line``, ``how`` = numba or extension, ``ext_name``, ``ext_path``).
    time : list of dict, optional
        Functions whose calls to time in the run (``file``, ``name``, ``line``): CPU and wall seconds.
    quiet : bool
        Capture the program's output (into the result) instead of passing it through: for the
        repeated runs after the first.
    stdout_to_stderr : bool
        Pass the program's stdout through to stderr (``--json`` keeps stdout for the report).

    Raises
    ------
    ProgramError
        The program cannot be started, or the runner reported nothing (it was killed).
    """
    python, argv = parse_command(command)
    fd, spec_name = tempfile.mkstemp(suffix=".json", dir=workdir)
    os.close(fd)
    spec_path, result_path = Path(spec_name), Path(spec_name).with_suffix(".result.json")
    spec = {"profile": str(profile) if profile else None, "record": record or [], "swap": swap or [], "time": time or [],
            "result": str(result_path)}
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    try:
        out: Any = subprocess.PIPE if quiet else (sys.stderr.fileno() if stdout_to_stderr else None)
        proc = subprocess.run([python, str(_RUNNER), str(spec_path), "--", *argv], check=False, stdout=out,
                              stderr=subprocess.PIPE if quiet else None)
    except OSError as exc:
        raise ProgramError(f"cannot start {python}: {exc.strerror or exc}") from None
    if not result_path.is_file():
        why = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
        raise ProgramError(f"the program ended without a report ({why})", proc.returncode if proc.returncode > 0 else 1)
    data = json.loads(result_path.read_text(encoding="utf-8"))
    status = data.get("status", proc.returncode)
    return RunResult(status=status, wall_s=data["wall_s"], cpu_s=data["cpu_s"], records=data.get("records", []),
                     swapped=data.get("swapped", []), timed=data.get("timed", []),
                     profiler_bias=tuple(data["profiler_bias"]) if data.get("profiler_bias") else None, stdout=proc.stdout or b"", stderr=proc.stderr or b"")


@dataclass
class FunctionStat:
    """One function of a profile, with the lesson's questions answered.

    Attributes
    ----------
    file, line, name : str, int, str
        Where it is defined (cProfile's key).
    calls : int
        Number of calls (recursive calls included).
    own_s : float
        Time in the function itself and in library code it calls (builtins, NumPy, the standard
        library), not in other functions of the user's code: what ranks the hot functions.
    cum_s : float
        Time from entry to return, callees included.
    waiting_s, numpy_s : float
        Part of ``cum_s`` spent in waiting callees (sleep, I/O, locks) / inside NumPy.
    waiting_in : list of str
        The waiting callees, largest first.
    callers : list of tuple
        User-code callers ``(file, line, name)``, by time spent calling this function.
    loops : bool
        Whether its source has a for/while loop (None: the source could not be read).
    """

    file: str
    line: int
    name: str
    calls: int
    own_s: float
    cum_s: float
    waiting_s: float
    numpy_s: float
    waiting_in: list[str]
    callers: list[tuple[str, int, str]]
    loops: bool | None
    kind: str = ""
    p: float = 0.0
    raw_share: float = 0.0
    raw_per_call_s: float = 0.0

    @property
    def label(self) -> str:
        """``name (file.py:line)``."""
        return f"{self.name} ({os.path.basename(self.file)}:{self.line})"

    @property
    def per_call_s(self) -> float:
        """Mean time per call (cumulative)."""
        return self.cum_s / self.calls if self.calls else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        d = dict(self.__dict__)
        d["callers"] = [list(c) for c in self.callers]
        d["per_call_s"] = self.per_call_s
        return d


@dataclass
class Profile:
    """The analysed profile of one run: its total time and its user functions, hottest first."""

    total_s: float
    functions: list[FunctionStat]
    waiting_s: float
    numpy_s: float
    waiting_in: list[str]
    source: str
    packages: frozenset[str] = frozenset()

    def loaded(self, package: str) -> bool:
        """Whether the program ran code of ``package`` (e.g. it imported numba)."""
        return package in self.packages

    def find(self, name: str) -> FunctionStat | None:
        """The function called ``name`` (the hottest of that name), or None."""
        return next((f for f in self.functions if f.name == name), None)


def load_profile(path: str | Path) -> pstats.Stats:
    """Read a cProfile/profile file (pstats format).

    Raises
    ------
    ProgramError
        The file does not exist or is not a profile.
    """
    path = Path(path)
    if not path.is_file():
        raise ProgramError(f"profile not found: {path}")
    try:
        stats = pstats.Stats(str(path))
    except Exception as exc:  # marshal and pstats raise several types (EOFError, ValueError, TypeError, ...)
        raise ProgramError(f"not a cProfile/pstats file: {path} ({type(exc).__name__}: {exc})") from None
    raw = getattr(stats, "stats", None)
    if not isinstance(raw, dict) or not raw:
        raise ProgramError(f"not a cProfile/pstats file (or an empty profile): {path}")
    return stats


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    dirs.add(str(Path(__file__).resolve().parents[1]))  # ffilab itself (the runner)
    return tuple(sorted(os.path.realpath(d) + os.sep for d in dirs))


def _is_user(file: str, lib: tuple[str, ...]) -> bool:
    if file == "~" or file.startswith("<"):
        return False
    real = os.path.realpath(file)
    return not real.startswith(lib) and "site-packages" not in real


def _is_waiting(key: tuple[str, int, str]) -> bool:
    return key[0] == "~" and any(w in key[2] for w in _WAITING)


def _is_numpy(key: tuple[str, int, str]) -> bool:
    if key[0] == "~":
        return "numpy" in key[2]
    return f"{os.sep}numpy{os.sep}" in key[0]


def _has_loop(file: str, line: int, name: str, cache: dict[str, ast.Module | None]) -> bool | None:
    if file not in cache:
        try:
            cache[file] = ast.parse(Path(file).read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            cache[file] = None
    tree = cache[file]
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name and (
                node.lineno == line or min([node.lineno, *(d.lineno for d in node.decorator_list)]) == line):
            return any(isinstance(n, (ast.For, ast.While, ast.AsyncFor, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp))
                       for n in ast.walk(node))
    return None


def classify(fn: FunctionStat) -> str:
    """The lesson's question for one function: ``waiting``, ``NumPy``, ``many tiny calls`` or ``heavy work per call``."""
    if fn.cum_s > 0 and fn.waiting_s >= 0.5 * fn.cum_s:
        return "waiting"
    # Array operators (a - b, a * b) are not calls cProfile sees: their time is the function's own.
    # A function with no loop and a long own time per call can only spend it in such C loops.
    own_per_call = fn.own_s / fn.calls if fn.calls else 0.0
    if fn.cum_s > 0 and (fn.numpy_s >= 0.5 * fn.cum_s or (fn.numpy_s > 0 and fn.loops is False and own_per_call >= 1e-4)):
        return "NumPy"
    # cProfile's uncorrected time per call: the correction can only make a call look cheaper,
    # and the 10 us threshold is far from both kinds, so the uncorrected time decides safely.
    if (fn.raw_per_call_s or fn.per_call_s) < TINY_CALL_S:
        return "many tiny calls"
    return "heavy work per call"


@functools.cache
def profiler_bias() -> tuple[float, float]:
    """cProfile's own cost per profiled call, as it shows up in the profile: ``(in the callee, in the caller)``.

    cProfile reads its clock around every call, and that cost lands in the times it reports: a
    function of many tiny calls looks several times slower than it is, and so does its caller
    (measured: the same loop of calls to an empty function with and without the profiler).  The
    measurement is the child runner's own (it repeats it after every profiled run, under the
    same load); here it serves a profile file, which brings no measurement with it.
    """
    from ffilab.advise import _runner

    callee, caller = _runner._profiler_bias()
    return callee, caller


def _debias(raw: dict[tuple[str, int, str], Any], bias: tuple[float, float]) -> dict[tuple[str, int, str], Any]:
    """The profile's times less cProfile's own cost per call (see :func:`profiler_bias`)."""
    in_callee, in_caller = bias
    made: dict[Any, int] = {}
    for _callee, (_cc, _nc, _tt, _ct, callers) in raw.items():
        for caller, edge in callers.items():
            made[caller] = made.get(caller, 0) + edge[1]
    own_bias = {k: v[1] * in_callee + made.get(k, 0) * in_caller for k, v in raw.items()}
    children: dict[Any, list[tuple[Any, int]]] = {}
    for callee, v in raw.items():
        for caller, edge in v[4].items():
            children.setdefault(caller, []).append((callee, edge[1]))
    memo: dict[Any, float] = {}

    def subtree(key: Any, stack: set[Any]) -> float:
        if key in memo:
            return memo[key]
        if key in stack:
            return 0.0
        stack.add(key)
        b = own_bias[key]
        for child, calls in children.get(key, []):
            if raw[child][1]:
                b += calls / raw[child][1] * subtree(child, stack)
        stack.discard(key)
        memo[key] = b
        return b

    out = {}
    for k, (cc, nc, tt, ct, callers) in raw.items():
        tt2 = max(tt - own_bias[k], 0.0)
        ct2 = max(ct - subtree(k, set()), tt2)
        scale = ct2 / ct if ct > 0 else 1.0
        out[k] = (cc, nc, tt2, ct2, {c: (e[0], e[1], e[2], e[3] * scale) for c, e in callers.items()})
    return out


def analyse(stats: pstats.Stats, source: str = "", bias: tuple[float, float] | None = None) -> Profile:
    """Answer the lesson's questions for every user function of a profile.

    The profile's times are first corrected for cProfile's own cost per call, measured on this
    machine (:func:`profiler_bias`): without it a function of many tiny calls, and every
    function calling builtins in a loop, would look far hotter than it is.

    Parameters
    ----------
    stats : pstats.Stats
        A loaded profile (see :func:`load_profile`).
    source : str
        Where the profile came from (shown in reports).
    bias : tuple of float, optional
        cProfile's cost per call measured where the profile was made (the child runner measures
        it right after the run); by default measured now, in this process.
    """
    measured: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    raw: dict[tuple[str, int, str], Any] = _debias(measured, bias or profiler_bias())
    lib = _library_dirs()
    measured_total = sum(v[2] for v in measured.values()) or 1e-12
    total = sum(v[2] for v in raw.values()) or 1e-12
    callees: dict[tuple[str, int, str], dict[tuple[str, int, str], float]] = {}
    for callee, (_cc, _nc, _tt, _ct, callers) in raw.items():
        for caller, edge in callers.items():
            callees.setdefault(caller, {})[callee] = edge[3]
    user = {k: _is_user(k[0], lib) for k in raw}

    def share(key: tuple[str, int, str], leaf: Any, memo: dict[Any, float], stack: set[Any]) -> float:
        # Seconds of `key`'s cumulative time spent in `leaf` callees, following calls down the
        # graph in proportion to each edge's share of the callee's time.
        if key in memo:
            return memo[key]
        if key in stack:
            return 0.0
        stack.add(key)
        s = 0.0
        for callee, ct in callees.get(key, {}).items():
            if leaf(callee):
                s += ct
            elif raw[callee][3] > 0:
                s += ct / raw[callee][3] * share(callee, leaf, memo, stack)
        stack.discard(key)
        memo[key] = min(s, raw[key][3])
        return memo[key]

    wait_memo: dict[Any, float] = {}
    numpy_memo: dict[Any, float] = {}
    ast_cache: dict[str, ast.Module | None] = {}
    functions = []
    for key, (_cc, nc, tt, ct, callers) in raw.items():
        if not user[key] or key[2].startswith("<"):
            continue
        own = tt + sum(t for c, t in callees.get(key, {}).items() if not user[c])
        waits = sorted(((t, c[2]) for c, t in callees.get(key, {}).items() if _is_waiting(c)), reverse=True)
        fn = FunctionStat(
            file=key[0], line=key[1], name=key[2], calls=nc, own_s=own, cum_s=ct,
            waiting_s=share(key, _is_waiting, wait_memo, set()), numpy_s=share(key, _is_numpy, numpy_memo, set()),
            waiting_in=[name for _t, name in waits[:3]],
            callers=[c for c, _e in sorted(callers.items(), key=lambda kv: -kv[1][3]) if user[c]],
            loops=_has_loop(key[0], key[1], key[2], ast_cache),
        )
        fn.raw_per_call_s = measured[key][3] / nc if nc else 0.0
        fn.kind = classify(fn)
        fn.p = ct / total
        # The share of the run cProfile itself reported, before its own cost was subtracted:
        # a second opinion for choosing the functions to examine (see session._candidates).
        fn.raw_share = (measured[key][2] + sum(measured[c][4][key][3] for c in callees.get(key, {}) if not user[c])) / measured_total
        functions.append(fn)
    functions.sort(key=lambda f: -f.own_s)
    waiting = sum(v[2] for k, v in raw.items() if _is_waiting(k))
    numpy_time = sum(v[2] for k, v in raw.items() if _is_numpy(k))
    names = [k[2] for k, v in sorted(raw.items(), key=lambda kv: -kv[1][2]) if _is_waiting(k)][:3]
    packages = frozenset(p for p in ("numpy", "numba") if any(f"{os.sep}{p}{os.sep}" in k[0] for k in raw))
    return Profile(total_s=total, functions=functions, waiting_s=waiting, numpy_s=numpy_time, waiting_in=names, source=source,
                   packages=packages)
