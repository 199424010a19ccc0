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
from typing import Any, Callable  # noqa: E402


def _load_swap() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("_ffilab_advise_swap", os.path.join(_HERE, "_swap.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Recorder:
    """Wraps one function: pickles the arguments of its first ``limit`` calls, then unwraps itself."""

    def __init__(self, target: dict[str, Any], fn: types.FunctionType, globs: dict[str, Any]) -> None:
        self.target, self.fn, self.globs = target, fn, globs
        self.limit = int(target.get("limit", 1000))
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
            if self.seen < self.limit and not self.stopped:
                # Recording is ffilab's cost, not the program's: timed, so it can be taken out.
                c0, w0 = time.process_time(), time.perf_counter()
                self._record(args, kwargs)
                self.cpu_s += time.process_time() - c0
                self.wall_s += time.perf_counter() - w0
            self.seen += 1
            if self.seen >= self.limit and self.globs.get(fn.__name__) is recorded:
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

    def install(self) -> None:
        if self.pending:
            sys.settrace(self._global)

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


def _run_program(argv: list[str]) -> int:
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
            runpy.run_path(script, run_name="__main__")
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
        keep = [f for f in frames if "runpy.py" not in f.filename]
        sys.stderr.write("Traceback (most recent call last):\n" + "".join(traceback.format_list(keep))
                         + "".join(traceback.format_exception_only(etype, value)))
        return 1
    return 0


def main() -> int:
    spec_path, sep, *argv = sys.argv[1:]
    assert sep == "--" and argv, "usage: _runner.py SPEC.json -- script.py ARGS"
    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    result: dict[str, Any] = {}
    recorders: list[Recorder] = []
    swapped: list[str] = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    if spec.get("record"):
        def make_recorder(target: dict[str, Any], fn: types.FunctionType, globs: dict[str, Any]) -> Any:
            rec = Recorder(target, fn, globs)
            recorders.append(rec)
            return rec.wrapper()

        DefinitionHook(spec["record"], make_recorder).install()
    if spec.get("swap"):
        swap = _load_swap()

        def make_swap(target: dict[str, Any], fn: types.FunctionType, globs: dict[str, Any]) -> Any:
            swapped.append(target["name"])
            if target["how"] == "numba":
                return swap.numba_jit(fn)
            module = swap.load_extension(target["ext_name"], target["ext_path"])
            return getattr(module, target["name"])

        DefinitionHook(spec["swap"], make_swap).install()
    profiler = None
    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        status = _run_program(argv)
    finally:
        if profiler is not None:
            profiler.disable()
        sys.settrace(None)
        result["wall_s"] = time.perf_counter() - wall0
        result["cpu_s"] = time.process_time() - cpu0
        sys.stdout.flush()
        if profiler is not None:
            profiler.dump_stats(spec["profile"])
        result["records"] = [r.save() for r in recorders]
        result["swapped"] = swapped
        with open(spec["result"], "w", encoding="utf-8") as fh:
            json.dump(result, fh)
    result["status"] = status
    with open(spec["result"], "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    return status


if __name__ == "__main__":
    sys.exit(main())
