"""``ffilab check --run``: a program run with every ctypes call checked against the headers.

The program runs in a child interpreter (so its stdout, stderr and exit status are its own, and a
segfault ends the child, not the checker).  Before the program starts, the child replaces each
new ``ctypes.CDLL``'s ``_FuncPtr`` class with a subclass whose ``__call__`` looks at the call and
then makes it unchanged, and wraps ``ctypes.cast``.  An audit hook would not do: CPython 3.11
audits ``ctypes.call_function`` with the raw function address and arguments only -- no name, no
``restype``, no result -- so it can neither say which prototype applies nor follow a returned
pointer to its free.

What the child sees goes, one JSON line per event and flushed at once, into a file the parent
reads when the child has ended: findings (an undeclared function called, an argument or a
declaration that disagrees with the prototype, a read through the wrong pointer type) and every
allocation and release of an allocating function's memory.  Memory still allocated when the
program ended (after its atexit handlers and a garbage collection, so ``weakref.finalize``
releases count), or when it died, is reported with the line that allocated it.
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import json
import os
import runpy
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ffilab.check.header import HeaderSet, Prototype, load_headers
from ffilab.check.rules import Finding
from ffilab.check.typemodel import TYPE_CODES, PyType, ctypes_simple, dtype_elem, elem_mismatch, mismatch

__all__ = ["RunReport", "pytype_of", "run_checked"]

_ENV = "FFILAB_CHECK_RUN_CONFIG"


@dataclass(frozen=True)
class RunReport:
    """What a checked run found: the program's exit status (``128 + N`` when signal N killed
    it), the findings, and the signal's name if it died of one."""

    status: int
    findings: list[Finding]
    died_of: str | None


def pytype_of(cls: Any) -> PyType | None:
    """The :class:`PyType` of a live ctypes class (``ctypes.c_double``, ``POINTER(c_float)``,
    ``c_int * 3``); ``None`` for ``None`` or what the checker does not model."""
    if cls is None:
        return PyType("none", "None")
    if not isinstance(cls, type):
        return None
    if issubclass(cls, ctypes._Pointer):
        elem = pytype_of(cls._type_)
        return PyType("pointer", f"POINTER({elem.name if elem else cls._type_.__name__})", 8, False, elem or PyType("other", cls._type_.__name__))
    if issubclass(cls, ctypes.Array):
        elem = pytype_of(cls._type_)
        return PyType("array", f"{elem.name if elem else '?'} * {cls._length_}", 8, False, elem or PyType("other", "?"))
    if issubclass(cls, ctypes.Structure | ctypes.Union):
        return PyType("struct", cls.__name__)
    dtype = getattr(cls, "_dtype_", None)  # numpy.ctypeslib.ndpointer classes carry theirs
    if dtype is not None:
        return PyType("ndpointer", cls.__name__, 8, False, None, str(dtype))
    code = getattr(cls, "_type_", None)
    if isinstance(code, str) and code in TYPE_CODES:
        simple = ctypes_simple(TYPE_CODES[code])
        if simple is not None:
            # c_int64 is c_long on LP64: name the class the program wrote.
            return PyType(simple.kind, cls.__name__, simple.size, simple.signed)
    return None


def _address(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value or None
    if isinstance(value, ctypes.c_void_p):
        return value.value
    if isinstance(value, ctypes._Pointer | ctypes.c_char_p):
        return ctypes.cast(value, ctypes.c_void_p).value
    if isinstance(value, ctypes.Array):
        return ctypes.addressof(value)
    return None


class _Checker:
    """Lives in the checked program's process: sees every ctypes call and writes events."""

    def __init__(self, headers: HeaderSet, events: Any) -> None:
        self.headers = headers
        self.events = events
        self.lock = threading.Lock()
        self.seen: set[tuple[object, ...]] = set()
        self.live: dict[int, Prototype] = {}
        self.frees = headers.frees()

    def emit(self, event: dict[str, Any]) -> None:
        with self.lock:
            self.events.write(json.dumps(event) + "\n")
            self.events.flush()

    def finding(self, key: tuple[object, ...], code: str, where: tuple[str, int, int], message: str) -> None:
        if key in self.seen:
            return
        self.seen.add(key)
        self.emit({"kind": "finding", "code": code, "path": where[0], "line": where[1], "col": where[2], "message": message})

    def before(self, fp: Any, args: tuple[Any, ...], where: tuple[str, int, int]) -> None:
        name = getattr(fp, "__name__", None)
        proto = self.headers.get(name) if name else None
        if proto is None:
            return
        argtypes = fp.argtypes
        missing = []
        if argtypes is None and proto.params:
            missing.append("argtypes")
        ret = proto.ret
        if fp.restype is ctypes.c_int and ret.kind != "void" and not (ret.kind == "int" and ret.size == 4 and ret.signed):
            missing.append("restype")
        if missing:
            what = " and ".join("argtypes" if m == "argtypes" else "restype (it is ctypes' default c_int)" for m in missing)
            self.finding(("1", name, where), "FFI001", where, f"{name} called without {what} ({proto.signature()})")
        if argtypes is not None and ("2", name) not in self.seen:
            self.seen.add(("2", name))
            if len(argtypes) != len(proto.params) and not proto.variadic:
                self.finding(("2n", name), "FFI002", where, f"{name}.argtypes lists {len(argtypes)} type(s), C takes {len(proto.params)}")
            for i, (cls, param) in enumerate(zip(argtypes, proto.params)):
                t = pytype_of(cls)
                why = mismatch(t, param.ctype) if t is not None else None
                if why:
                    self.finding(("2", name, i), "FFI002", where, f"{name}.argtypes[{i}] for parameter '{param.name}': {why}")
        if "restype" not in missing and ("3", name) not in self.seen:
            self.seen.add(("3", name))
            t = pytype_of(fp.restype)
            why = mismatch(t, ret, is_return=True) if t is not None else None
            if why:
                self.finding(("3", name), "FFI003", where, f"{name}.restype: {why}")
        for i, (value, param) in enumerate(zip(args, proto.params)):
            c = param.ctype
            t = self._arg_type(value)
            if t is None:
                continue
            if c.kind == "pointer" and c.pointee is not None and t.kind in ("array", "pointer") and t.elem is not None:
                why = elem_mismatch(t.elem, c.pointee)
            elif t.kind in ("int", "float") and c.kind in ("int", "float", "pointer"):
                why = mismatch(t, c)
            else:
                continue
            if why:
                self.finding(("4", name, i, where, t.name), "FFI004", where,
                             f"{name} argument {i + 1} ('{param.name}', C {c.spelling}) gets a {t.name}: {why}")

    @staticmethod
    def _arg_type(value: Any) -> PyType | None:
        if isinstance(value, ctypes._SimpleCData | ctypes._Pointer | ctypes.Array):
            return pytype_of(type(value))
        obj = getattr(value, "_obj", None)  # byref(x)
        if obj is not None and type(value).__name__ == "CArgObject":
            inner = pytype_of(type(obj))
            return PyType("pointer", f"byref({inner.name})", 8, False, inner) if inner is not None else None
        dtype = getattr(value, "dtype", None)
        if dtype is not None and hasattr(value, "__array_interface__"):
            elem = dtype_elem(str(dtype))
            return PyType("array", f"numpy {dtype} array", 8, False, elem) if elem is not None else None
        return None

    def after(self, fp: Any, args: tuple[Any, ...], result: Any, where: tuple[str, int, int]) -> None:
        name = getattr(fp, "__name__", None)
        if not name:
            return
        spec = self.headers.allocators.get(name)
        if spec is not None:
            if spec.out_index is None:
                addr = _address(result)
            else:
                arg = args[spec.out_index] if spec.out_index < len(args) else None
                addr = _address(getattr(arg, "_obj", arg))
            if addr:
                proto = self.headers.prototypes[name]
                self.live[addr] = proto
                self.emit({"kind": "alloc", "id": addr, "func": name, "free": spec.free, "path": where[0], "line": where[1], "col": where[2]})
        if name in self.frees and args:
            addr = _address(args[0])
            if addr:
                self.live.pop(addr, None)
                self.emit({"kind": "free", "id": addr, "func": name})

    def cast(self, obj: Any, typ: Any, where: tuple[str, int, int]) -> None:
        addr = _address(obj)
        proto = self.live.get(addr) if addr else None
        if proto is None or proto.ret.kind != "pointer" or proto.ret.pointee is None:
            return
        t = pytype_of(typ)
        if t is None or t.kind != "pointer" or t.elem is None:
            return
        if elem_mismatch(t.elem, proto.ret.pointee):
            self.finding(("7", where), "FFI007", where, f"{proto.name} returned {proto.ret.spelling}, read here through {t.name}")


def _caller(depth: int) -> tuple[str, int, int]:
    f = sys._getframe(depth)
    col = 0
    try:  # the column of the instruction running (co_positions: Python 3.11+)
        positions = list(f.f_code.co_positions())
        col = positions[f.f_lasti // 2][2] or 0
    except (AttributeError, IndexError, TypeError):
        pass
    return f.f_code.co_filename, f.f_lineno, col + 1


def _install(checker: _Checker) -> None:
    original_init = ctypes.CDLL.__init__

    def init(self: ctypes.CDLL, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        base = self._FuncPtr

        class _CheckedFuncPtr(base):  # type: ignore[misc, valid-type]
            _flags_ = base._flags_  # ctypes requires them on every function-pointer class
            _restype_ = base._restype_

            def __call__(fp, *call_args: Any) -> Any:
                where = _caller(2)
                try:
                    checker.before(fp, call_args, where)
                except Exception as exc:  # the checker must never change the program
                    checker.emit({"kind": "note", "message": f"checker error before {fp!r}: {exc!r}"})
                result = base.__call__(fp, *call_args)
                try:
                    checker.after(fp, call_args, result, where)
                except Exception as exc:
                    checker.emit({"kind": "note", "message": f"checker error after {fp!r}: {exc!r}"})
                return result

        _CheckedFuncPtr.__name__ = base.__name__
        self._FuncPtr = _CheckedFuncPtr

    ctypes.CDLL.__init__ = init  # type: ignore[method-assign]
    original_cast = ctypes.cast

    def cast(obj: Any, typ: Any) -> Any:
        try:
            checker.cast(obj, typ, _caller(2))
        except Exception as exc:
            checker.emit({"kind": "note", "message": f"checker error in cast: {exc!r}"})
        return original_cast(obj, typ)

    ctypes.cast = cast


def _child_main() -> None:
    """Entry point of the child interpreter: check, then run the program as ``__main__``."""
    config = json.loads(Path(os.environ.pop(_ENV)).read_text(encoding="utf-8"))
    headers = load_headers(config["headers"], config["include_dirs"])
    headers.add_allocators(config["allocators"], "allocators")
    events = open(config["events"], "a", encoding="utf-8")  # noqa: SIM115 - open until exit
    checker = _Checker(headers, events)

    def at_exit() -> None:
        gc.collect()  # let dead owners' finalizers release their memory first
        checker.emit({"kind": "exit"})

    # Registered before the program runs, so it runs after the program's own atexit handlers.
    atexit.register(at_exit)
    _install(checker)
    script = config["script"]
    sys.argv = [script, *config["args"]]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit:
        raise
    except BaseException as exc:
        # Print the traceback as `python script.py` would, without this module's frames.
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != script:
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb or exc.__traceback__)
        sys.exit(1)


def run_checked(
    script: str | os.PathLike[str],
    args: Sequence[str],
    header_paths: Sequence[str],
    include_dirs: Sequence[str] = (),
    allocators: Mapping[str, str] | None = None,
) -> RunReport:
    """Run ``script`` with ``args`` in a child interpreter, every ctypes call checked.

    The program's standard streams are the caller's and its exit status is returned, unchanged.

    Parameters
    ----------
    script : path-like
        The Python program.
    args : sequence of str
        Its command-line arguments.
    header_paths, include_dirs : sequence of str
        The C headers and extra include directories (see :func:`ffilab.check.header.load_headers`).
    allocators : mapping of str to str, optional
        Extra ``allocator -> free`` pairs.

    Raises
    ------
    HeaderError
        If a header cannot be parsed (checked before the program starts).
    FileNotFoundError
        If ``script`` does not exist.
    """
    path = Path(script)
    if not path.is_file():
        raise FileNotFoundError(f"script {str(path)!r} does not exist")
    pairs = dict(allocators or {})
    load_headers(header_paths, include_dirs).add_allocators(pairs, "allocators")  # fail early, before running
    with tempfile.TemporaryDirectory(prefix="ffilab-check-") as tmp:
        events_path = Path(tmp) / "events.jsonl"
        config_path = Path(tmp) / "config.json"
        config_path.write_text(json.dumps({
            "headers": [os.path.abspath(h) for h in header_paths], "include_dirs": list(include_dirs),
            "allocators": pairs, "events": str(events_path), "script": str(path), "args": list(args),
        }), encoding="utf-8")
        env = {**os.environ, _ENV: str(config_path)}
        code = "from ffilab.check.runtime import _child_main; _child_main()"
        proc = subprocess.run([sys.executable, "-c", code], env=env, check=False)
        lines = events_path.read_text(encoding="utf-8").splitlines() if events_path.exists() else []
    return _report(lines, proc.returncode)


def _report(lines: list[str], returncode: int) -> RunReport:
    findings: list[Finding] = []
    allocs: dict[int, dict[str, Any]] = {}
    exited = False
    for line in lines:
        try:
            e = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        kind = e.get("kind")
        if kind == "finding":
            findings.append(Finding(e["path"], e["line"], e.get("col", 1), e["code"], e["message"]))
        elif kind == "alloc":
            allocs[e["id"]] = e
        elif kind == "free":
            allocs.pop(e["id"], None)
        elif kind == "exit":
            exited = True
    died_of = signal.Signals(-returncode).name if returncode < 0 else None
    if exited:
        when = "when the program ended"
    elif died_of:
        when = f"when the program died of {died_of}"
    else:
        when = "when the program stopped before its exit handlers ran (os._exit or a fatal error)"
    for a in allocs.values():
        findings.append(Finding(a["path"], a["line"], a.get("col", 1), "FFI005",
                                f"memory from {a['func']} allocated here was never passed to {a['free']}: still allocated {when}"))
    status = 128 - returncode if returncode < 0 else returncode
    return RunReport(status, sorted(set(findings)), died_of)
