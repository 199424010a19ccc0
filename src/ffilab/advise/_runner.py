"""The child runner of ``ffilab advise``/``try``: runs the user's program unmodified, under cProfile, recording or with a swap.

Usage (internal): ``python _runner.py SPEC.json -- script.py ARGS`` or ``... -- -m module ARGS``.
Run by the *user's* interpreter by path, so it imports nothing from ffilab (only the standalone
``_swap.py`` beside it, loaded by path). The program's stdout, stderr and exit status pass through;
what the runner learns goes to the JSON file named by the spec.
"""

from __future__ import annotations

import os
import sys

# Python put this file's folder first on sys.path; the program must see its own folder there
# instead (as `python script.py` would), and never ffilab's modules by their bare names.
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    del sys.path[0]

import importlib.util  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
import runpy  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import types  # noqa: E402
import builtins  # noqa: E402
from collections.abc import Iterator, MutableMapping  # noqa: E402
from typing import Any, Callable  # noqa: E402


def _load_swap() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("_ffilab_advise_swap", os.path.join(_HERE, "_swap.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Recorder:
    """Wraps one function: pickles the arguments of every ``stride``-th call, ``limit`` calls at most, then unwraps itself.

    The stride spreads the recorded calls over the whole run (a function's calls late in a run
    may differ from its first ones); once the last one is recorded the original is put back.
    """

    def __init__(self, target: dict[str, Any], fn: types.FunctionType, globs: dict[str, Any]) -> None:
        self.target, self.fn, self.globs = target, fn, globs
        self.limit = int(target.get("limit", 1000))
        self.stride = max(1, int(target.get("stride", 1)))
        self.max_bytes = int(target.get("max_bytes", 64 << 20))
        self.calls: list[bytes] = []
        self.problems: list[str] = []
        self.seen = 0
        self.bytes = 0
        self.stopped = ""
        self.cpu_s = 0.0
        self.wall_s = 0.0

    def wrapper(self) -> Callable[..., Any]:
        fn = self.fn

        def recorded(*args: Any, **kwargs: Any) -> Any:
            if self.seen % self.stride == 0 and len(self.calls) < self.limit and not self.stopped:
                # Recording is ffilab's cost, not the program's: timed, so it can be taken out.
                c0, w0 = time.process_time(), time.perf_counter()
                self._record(args, kwargs)
                self.cpu_s += time.process_time() - c0
                self.wall_s += time.perf_counter() - w0
            self.seen += 1
            if self.seen >= self.limit * self.stride and self.globs.get(fn.__name__) is recorded:
                # Later calls go straight to the function again: the run stays the program's own.
                self.globs[fn.__name__] = fn
            return fn(*args, **kwargs)

        recorded.__wrapped__ = fn  # type: ignore[attr-defined]
        return recorded

    def _record(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        # pickle.dumps is the deep copy: it snapshots the arguments before the call can mutate them.
        try:
            blob = pickle.dumps((args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # any pickling failure is reported with the argument it concerns
            self.problems.append(f"call {self.seen + 1}: {self._culprit(args, kwargs)} cannot be copied: {type(exc).__name__}: {exc}")
            return
        if self.bytes + len(blob) > self.max_bytes:
            self.stopped = f"stopped after {len(self.calls)} calls: the recorded arguments reached {self.max_bytes >> 20} MiB"
            return
        self.bytes += len(blob)
        self.calls.append(blob)

    @staticmethod
    def _culprit(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        for i, value in enumerate(args):
            try:
                pickle.dumps(value)
            except Exception:
                return f"argument {i + 1} ({type(value).__name__})"
        for key, value in kwargs.items():
            try:
                pickle.dumps(value)
            except Exception:
                return f"argument {key!r} ({type(value).__name__})"
        return "the arguments"

    def save(self) -> dict[str, Any]:
        with open(self.target["out"], "wb") as fh:
            pickle.dump(self.calls, fh, protocol=pickle.HIGHEST_PROTOCOL)
        return {"name": self.fn.__name__, "recorded": len(self.calls), "seen": self.seen,
                "problems": self.problems, "stopped": self.stopped, "bytes": self.bytes,
                "cpu_s": self.cpu_s, "wall_s": self.wall_s}


class Timer:
    """Wraps one function to add up the CPU and wall time of its calls (outermost calls only, for recursion)."""

    def __init__(self, fn: types.FunctionType) -> None:
        self.fn = fn
        self.calls = 0
        self.cpu_s = 0.0
        self.wall_s = 0.0
        self.depth = 0

    def wrapper(self) -> Callable[..., Any]:
        fn = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            fn.calls += 1
            if fn.depth:
                return fn.fn(*args, **kwargs)
            fn.depth += 1
            c0, w0 = time.process_time(), time.perf_counter()
            try:
                return fn.fn(*args, **kwargs)
            finally:
                fn.cpu_s += time.process_time() - c0
                fn.wall_s += time.perf_counter() - w0
                fn.depth -= 1

        timed.__wrapped__ = self.fn  # type: ignore[attr-defined]
        return timed

    def result(self) -> dict[str, Any]:
        return {"name": self.fn.__name__, "calls": self.calls, "cpu_s": self.cpu_s, "wall_s": self.wall_s}


class DefinitionHook:
    """Replaces a module's function right after its ``def`` runs (sys.settrace on module frames only).

    The program's source is not changed: the hook watches the top-level frame of each target file
    and, once the name is bound to the function defined there, rebinds it. Tracing ends as soon as
    every target is replaced, so the rest of the run is untraced.
    """

    def __init__(self, targets: list[dict[str, Any]], make: Callable[[dict[str, Any], types.FunctionType, dict[str, Any]], Any]) -> None:
        self.pending = {i: t for i, t in enumerate(targets)}
        self.files = {os.path.abspath(t["file"]) for t in targets} | {t["file"] for t in targets}
        self.make = make
        self.script_targets: dict[str, dict[str, Any]] = {}

    def install(self, script: str | None) -> None:
        """Catch the targets of the script itself by its namespace (no tracing); the others by a tracer."""
        if script is not None:
            for key, target in list(self.pending.items()):
                if os.path.abspath(target["file"]) == os.path.abspath(script):
                    self.script_targets[target["name"]] = target
                    del self.pending[key]
        self.files = {os.path.abspath(t["file"]) for t in self.pending.values()} | {t["file"] for t in self.pending.values()}
        if self.pending:
            sys.settrace(self._global)

    def on_store(self, name: str, value: Any, globs: dict[str, Any]) -> Any:
        """What the script's top level binds to ``name``: the replacement once its target function is defined."""
        target = self.script_targets.get(name)
        if (target is not None and isinstance(value, types.FunctionType)
                and (target.get("line") is None or value.__code__.co_firstlineno == target["line"])):
            del self.script_targets[name]
            return self.make(target, value, globs)
        return value

    def _global(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if event == "call" and frame.f_code.co_name == "<module>" and frame.f_code.co_filename in self.files:
            return self._local
        return None

    def _local(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if event in ("line", "return"):
            globs = frame.f_globals
            for key, target in list(self.pending.items()):
                fn = globs.get(target["name"])
                if (isinstance(fn, types.FunctionType) and os.path.abspath(fn.__code__.co_filename) == os.path.abspath(target["file"])
                        and (target.get("line") is None or fn.__code__.co_firstlineno == target["line"])):
                    globs[target["name"]] = self.make(target, fn, globs)
                    del self.pending[key]
            if not self.pending:
                sys.settrace(None)
                return None
        return self._local


class ScriptNamespace(MutableMapping[str, Any]):
    """The local namespace the script's top level runs in: every name lands in its real globals.

    ``exec(code, globals, this)`` sends the top level's own name bindings (``def f``, ``x = 1``)
    through ``__setitem__``, where a hook may bind a replacement instead; reads and functions'
    globals see the module's real dict. Nothing else of the program runs differently, and no
    tracer slows it down.
    """

    def __init__(self, globs: dict[str, Any], hooks: list[DefinitionHook]) -> None:
        self.globs, self.hooks = globs, hooks

    def __getitem__(self, key: str) -> Any:
        return self.globs[key]

    def __setitem__(self, key: str, value: Any) -> None:
        for hook in self.hooks:
            value = hook.on_store(key, value, self.globs)
        self.globs[key] = value

    def __delitem__(self, key: str) -> None:
        del self.globs[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.globs)

    def __len__(self) -> int:
        return len(self.globs)


def _run_script(script: str, hooks: list[DefinitionHook]) -> None:
    if not any(h.script_targets for h in hooks):
        runpy.run_path(script, run_name="__main__")
        return
    # What runpy.run_path does for a plain script, with the namespace above as the top level's locals.
    with open(script, "rb") as fh:
        code = compile(fh.read(), script, "exec")
    module = types.ModuleType("__main__")
    module.__dict__.update(__file__=script, __cached__=None, __loader__=None, __package__=None, __spec__=None,
                           __builtins__=builtins)
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = module
    try:
        exec(code, module.__dict__, ScriptNamespace(module.__dict__, hooks))
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


def _run_program(argv: list[str], hooks: list[DefinitionHook]) -> int:
    """Run the program as ``python ARGV`` would, in this process; return its exit status."""
    try:
        if argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            sys.path.insert(0, os.getcwd())
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            script = os.path.abspath(argv[0])
            sys.argv = [argv[0], *argv[1:]]
            sys.path.insert(0, os.path.dirname(script))
            _run_script(script, hooks)
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        traceback.print_exc()
        return 130
    except BaseException:
        # The program's own traceback, as Python prints it, without this runner's frames.
        etype, value, tb = sys.exc_info()
        while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) == os.path.abspath(__file__):
            tb = tb.tb_next
        frames = traceback.extract_tb(tb)
        keep = [f for f in frames if "runpy" not in f.filename]
        sys.stderr.write("Traceback (most recent call last):\n" + "".join(traceback.format_list(keep))
                         + "".join(traceback.format_exception_only(etype, value)))
        return 1
    return 0


def _profiler_bias() -> list[float]:
    """cProfile's own cost per call (in the callee, in the caller), measured in this process right
    after the profiled run, under the same load (ffilab subtracts it from the profile's times)."""
    import cProfile
    import pstats

    def empty() -> None:
        return None

    def calls(n: int) -> None:
        for _ in range(n):
            empty()

    def loop(n: int) -> None:
        for _ in range(n):
            pass

    def best(fn: Callable[[int], None], n: int) -> float:
        out = []
        for _ in range(3):
            t0 = time.perf_counter()
            fn(n)
            out.append(time.perf_counter() - t0)
        return min(out) / n

    n = 100_000
    true_loop = best(loop, n)
    true_call = max(best(calls, n) - true_loop, 0.0)
    pairs = []
    for _ in range(3):
        prof = cProfile.Profile()
        prof.enable()
        calls(n)
        prof.disable()
        st = pstats.Stats(prof).stats  # type: ignore[attr-defined]
        callee = next(v for k, v in st.items() if k[2] == "empty")[2] / n
        caller = next(v for k, v in st.items() if k[2] == "calls")[2] / n
        pairs.append([max(callee - true_call, 0.0), max(caller - true_loop, 0.0)])
    pairs.sort(key=sum)
    # The smallest of three: subtracting too little leaves a tiny function a little too hot,
    # subtracting too much (a busy moment while calibrating) would erase a caller's own time.
    return pairs[0]


def main() -> int:
    spec_path, sep, *argv = sys.argv[1:]
    assert sep == "--" and argv, "usage: _runner.py SPEC.json -- script.py ARGS"
    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    result: dict[str, Any] = {}
    # One definition hook per run (sys.settrace holds one tracer): a run records, times or swaps.
    assert sum(bool(spec.get(k)) for k in ("record", "time", "swap")) <= 1, "one of record, time, swap per run"
    recorders: list[Recorder] = []
    hooks: list[DefinitionHook] = []
    swapped: list[str] = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    if spec.get("record"):
        def make_recorder(target: dict[str, Any], fn: types.FunctionType, globs: dict[str, Any]) -> Any:
            rec = Recorder(target, fn, globs)
            recorders.append(rec)
            return rec.wrapper()

        hooks.append(DefinitionHook(spec["record"], make_recorder))
    timers: list[Timer] = []
    if spec.get("time"):
        def make_timer(target: dict[str, Any], fn: types.FunctionType, globs: dict[str, Any]) -> Any:
            timer = Timer(fn)
            timers.append(timer)
            return timer.wrapper()

        hooks.append(DefinitionHook(spec["time"], make_timer))
    if spec.get("swap"):
        swap = _load_swap()

        def make_swap(target: dict[str, Any], fn: types.FunctionType, globs: dict[str, Any]) -> Any:
            swapped.append(target["name"])
            if target["how"] == "numba":
                return swap.numba_jit(fn)
            module = swap.load_extension(target["ext_name"], target["ext_path"])
            return getattr(module, target["name"])

        hooks.append(DefinitionHook(spec["swap"], make_swap))
    script = None if argv[0] == "-m" else os.path.abspath(argv[0])
    for hook in hooks:
        hook.install(script)
    profiler = None
    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        status = _run_program(argv, hooks)
    finally:
        if profiler is not None:
            profiler.disable()
        sys.settrace(None)
        result["wall_s"] = time.perf_counter() - wall0
        result["cpu_s"] = time.process_time() - cpu0
        sys.stdout.flush()
        if profiler is not None:
            profiler.dump_stats(spec["profile"])
            result["profiler_bias"] = _profiler_bias()
        result["records"] = [r.save() for r in recorders]
        result["timed"] = [t.result() for t in timers]
        result["swapped"] = swapped
        with open(spec["result"], "w", encoding="utf-8") as fh:
            json.dump(result, fh)
    result["status"] = status
    with open(spec["result"], "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    return status


if __name__ == "__main__":
    sys.exit(main())
