"""The tried routes: compile the user's function as it is with Numba (``njit``), Cython (pure-Python mode) or mypyc.

Each route returns a :class:`Variant`: the compiled function (or a one-line reason it could not
be made, a user can act on), how long compiling took, and how the child runner swaps it into the
program for ``--confirm``. Nothing here decides whether the variant is right or fast: that is
``timing.py``'s job, on the arguments recorded from the real run.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import hashlib
import importlib.util
import inspect
import io
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ffilab.advise import _swap
from ffilab.advise.target import Target

__all__ = ["TRIED_ROUTES", "Variant", "build", "numba_setup_s", "reduce_numba_error", "cython_python_lines"]

#: The routes that compile the Python source as it is, in the order they are tried.
TRIED_ROUTES = ("numba", "cython", "mypyc")

Call = tuple[tuple[Any, ...], dict[str, Any]]


@dataclass
class Variant:
    """One route's compiled version of the function.

    Attributes
    ----------
    route : str
        ``numba``, ``cython`` or ``mypyc``.
    status : str
        ``ok``, ``failed`` (the route ran and could not compile it) or ``unavailable`` (the tool
        is missing here).
    reason : str
        One line: why it failed or is unavailable ("" when ok).
    fn : callable or None
        The compiled function.
    compile_s : float
        CPU seconds to make it (Numba: the first call, which compiles; Cython, mypyc: the
        compilers, in child processes, wall time) .
    setup_s : float
        CPU seconds a program pays once to use it (Numba: importing numba and compiling at the
        first call; compiled modules: importing them).
    notes : list of str
        What the user should know (Cython's annotation, Numba's warnings).
    swap : dict
        How the child runner puts it in place of the original (see ``_runner.py``).
    """

    route: str
    status: str
    reason: str = ""
    fn: Callable[..., Any] | None = None
    compile_s: float = 0.0
    setup_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    swap: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (without the function)."""
        return {k: v for k, v in self.__dict__.items() if k != "fn"}


def build(route: str, target: Target, first_call: Call, workdir: Path) -> Variant:
    """Compile ``target`` with ``route``; never raises for a failure of the route (it is the result).

    Parameters
    ----------
    route : str
        One of :data:`TRIED_ROUTES`.
    target : Target
        The function.
    first_call : tuple
        ``(args, kwargs)`` of one recorded call: Numba compiles for the types of these arguments.
    workdir : Path
        A private directory for the generated sources and compiled modules.
    """
    if route == "numba":
        return _numba(target, first_call)
    if route == "cython":
        return _cython(target, workdir)
    if route == "mypyc":
        return _mypyc(target, workdir)
    raise ValueError(f"route must be one of {', '.join(TRIED_ROUTES)}, got {route!r}")


# --- Numba ---------------------------------------------------------------------------------------

_SETUP_CHILD = """
import importlib.util, pickle, sys, time
spec = importlib.util.spec_from_file_location("_ffilab_setup_swap", sys.argv[1])
swap = importlib.util.module_from_spec(spec); spec.loader.exec_module(swap)
sys.path.insert(0, sys.argv[3])
mspec = importlib.util.spec_from_file_location(sys.argv[4], sys.argv[2])
module = importlib.util.module_from_spec(mspec); sys.modules[sys.argv[4]] = module; mspec.loader.exec_module(module)
args, kwargs = pickle.load(open(sys.argv[6], "rb"))
if sys.argv[7] == "1":
    import numba
t = time.process_time()
import numba
try:
    swap.numba_jit(getattr(module, sys.argv[5]))(*args, **kwargs)
except Exception:
    pass
print(time.process_time() - t)
"""


def numba_setup_s(target: Target, first_call: Call, workdir: Path, numba_loaded: bool) -> float | None:
    """CPU seconds a fresh process pays before the first jitted call returns: ``import numba``, Numba's
    start-up and the compilation (the import is left out when the program imports numba anyway).

    Measured in a child so that nothing this process already did (ffilab's own numba route loads
    Numba's runtime) hides part of it. The function's module is imported there as ``target``
    imported it (its top level only defines). Returns None if the child failed.
    """
    call_file = workdir / "numba_setup_call.pkl"
    with open(call_file, "wb") as fh:
        pickle.dump(first_call, fh)
    proc = subprocess.run([sys.executable, "-c", _SETUP_CHILD, _swap.__file__, str(target.file), str(target.file.parent),
                           target.module.__name__, target.name, str(call_file), "1" if numba_loaded else "0"],
                          capture_output=True, text=True, check=False)
    try:
        return float(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def _plain(text: str) -> str:
    """Without Numba's terminal colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _short_types(text: str) -> str:
    text = re.sub(r"<module '([\w.]+)' from '[^']*'>", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def reduce_numba_error(message: str, target: Target | None = None) -> str:
    """Numba's typing error reduced to one line: the offending source line and the type problem.

    Numba prints the pipeline step, the problem (with types), then ``File "...", line N:`` with
    the source and a caret under the offending line, then where it was typing. The problem and
    the source line above the caret are what a user acts on.
    """
    lines = _plain(message).splitlines()
    problem = ""
    for ln in lines:
        s = ln.strip()
        if not s or s.startswith(("Failed in", "During:", "File ", "- Resolution failure", "Enable logging")):
            continue
        if problem == "" and not s.startswith(("[1]", "^", "<source")):
            problem = s
        if s.startswith(">>>"):
            problem += " " + s[3:].strip()
            break
        if problem and not s.startswith(">>>") and problem != s and "found for signature" not in problem:
            break
    where = ""
    for i, ln in enumerate(lines):
        m = re.match(r'\s*File "([^"]+)", line (\d+):', ln)
        if m:
            caret = next((j for j in range(i + 1, min(i + 40, len(lines))) if lines[j].strip() == "^"), None)
            src = lines[caret - 1].strip() if caret else ""
            where = f"line {m.group(2)}" + (f" `{src}`" if src else "")
            break
    raised = re.search(r"\s*Raised from (.+) \((\d+)\)\s*$", problem)
    if raised:
        # Errors of Numba's bytecode analysis name the file and line instead of showing the source.
        problem = problem[:raised.start()].strip()
        if not where:
            where = f"line {raised.group(2)}" + _source_line(raised.group(1), int(raised.group(2)))
    # Numba's internal variable names ('$phi58.3.2') and the repeated location mean nothing to a user.
    problem = re.sub(r"\s+for '\$[^']*'(, defined at .*)?$", "", problem)
    problem = _short_types(problem)
    if len(problem) > 300:
        problem = problem[:297] + "..."
    return f"{where}: {problem}" if where else problem


def _source_line(file: str, line: int) -> str:
    try:
        text = Path(file).read_text(encoding="utf-8").splitlines()[line - 1].strip()
    except (OSError, IndexError, UnicodeDecodeError):
        return ""
    return f" `{text}`"


def _numba(target: Target, first_call: Call) -> Variant:
    if importlib.util.find_spec("numba") is None:
        return Variant("numba", "unavailable", "numba is not installed (pip install numba)")
    import numba

    jitted = _swap.numba_jit(target.fn)
    args, kwargs = copy.deepcopy(first_call)
    notes: list[str] = []
    t0 = time.process_time()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            jitted(*args, **kwargs)
    except Exception as exc:  # Numba's errors fail the route; the function's own exceptions are verification's
        if isinstance(exc, numba.core.errors.NumbaError) or type(exc).__module__.startswith("numba"):
            return Variant("numba", "failed", reduce_numba_error(str(exc), target), compile_s=time.process_time() - t0)
        notes.append(f"the first recorded call raised {type(exc).__name__}: {exc}")
    compile_s = time.process_time() - t0
    reflected = []
    for w in caught:
        if isinstance(w.message, Warning) and "numba" in type(w.message).__module__:
            text = _short_types(next((ln for ln in _plain(str(w.message)).splitlines() if ln.strip()), ""))
            m = re.search(r"type 'reflected (\w+)' found for argument '(\w+)'", text)
            if m:
                # One note for all the arguments Numba must convert from Python lists/sets at every call.
                reflected.append(m.group(2))
                continue
            notes.append(f"numba warns: {type(w.message).__name__}: {text[:160]}")
    if reflected:
        notes.append(f"arguments {', '.join(dict.fromkeys(reflected))} are Python lists: Numba converts them at every call "
                     "(deprecated 'reflected list'); NumPy arrays pass without a copy")
    notes = list(dict.fromkeys(notes))
    # setup_s is the compile alone here (in this process Numba may be warm already): the caller
    # measures what a fresh program pays with numba_setup_s, knowing whether it imports numba.
    return Variant("numba", "ok", fn=jitted, compile_s=compile_s, setup_s=compile_s, notes=notes, swap={"how": "numba"})


# --- compiled modules (Cython, mypyc) -------------------------------------------------------------

def _module_copy(target: Target, workdir: Path, route: str) -> tuple[str, Path]:
    digest = hashlib.sha1(f"{target.file}:{target.file.stat().st_mtime_ns}".encode()).hexdigest()[:8]
    name = f"_ffilab_{route}_{target.file.stem}_{digest}"
    folder = workdir / route
    folder.mkdir(parents=True, exist_ok=True)
    src = folder / f"{name}.py"
    shutil.copyfile(target.file, src)
    return name, src


def _compile_once(folder: Path, name: str, run: Callable[[], str]) -> tuple[str, float]:
    """Compile a module copy once per session: its functions share the compiled module.

    Returns the failure line ("" on success) and the seconds the compilation took.
    """
    done = folder / f"{name}.compiled.json"
    if done.is_file():
        saved = json.loads(done.read_text(encoding="utf-8"))
        return saved["failure"], saved["seconds"]
    t0 = time.perf_counter()
    failure = run()
    seconds = time.perf_counter() - t0
    done.write_text(json.dumps({"failure": failure, "seconds": seconds}), encoding="utf-8")
    return failure, seconds


def _first_line(text: str, pattern: str, fallback: str) -> str:
    for ln in text.splitlines():
        if re.search(pattern, ln):
            return ln.strip()
    tail = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return tail[-1] if tail else fallback


def _load(name: str, folder: Path, target: Target) -> tuple[Callable[..., Any], str, float]:
    so = next(iter(sorted(folder.glob(f"{name}*{sysconfig.get_config_var('EXT_SUFFIX')}"))), None)
    if so is None:
        raise ImportError(f"the compiler produced no module {name}")
    t0 = time.process_time()
    module = sys.modules.get(name)  # another function of the same module loaded it already (Cython loads once)
    if module is None:
        with contextlib.redirect_stdout(io.StringIO()):
            module = _swap.load_extension(name, str(so))
    fn = getattr(module, target.name)
    return fn, str(so), time.process_time() - t0


def _compiler() -> str | None:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) or shutil.which("cc") or shutil.which("gcc")


def _loop_lines(target: Target) -> list[int]:
    """The lines of the function's loops (headers and bodies): its hot loop, in source lines."""
    tree = ast.parse(target.file.read_text(encoding="utf-8"))
    lines: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == target.name:
            for loop in ast.walk(node):
                if isinstance(loop, (ast.For, ast.While)):
                    for inner in ast.walk(loop):
                        if isinstance(inner, ast.stmt):
                            lines.add(inner.lineno)
    return sorted(lines)


def cython_python_lines(html: str, lines: list[int]) -> list[int]:
    """Of ``lines``, those Cython's annotation (``cython -a``) scores above 0: they still touch Python objects."""
    scores = {int(n): int(s) for s, n in re.findall(r'<pre class="cython line score-(\d+)"[^>]*>(?:&#xA0;|\+)<span class="">(\d+)</span>', html)}
    return [ln for ln in lines if scores.get(ln, 0) > 0]


def _cython(target: Target, workdir: Path) -> Variant:
    if importlib.util.find_spec("Cython") is None:
        return Variant("cython", "unavailable", "Cython is not installed (pip install 'ffilab[advise]')")
    cc = _compiler()
    if cc is None:
        return Variant("cython", "unavailable", "no C compiler found (cc, gcc)")
    name, src = _module_copy(target, workdir, "cython")
    folder = src.parent

    def run() -> str:
        proc = subprocess.run([sys.executable, "-m", "cython", "-3", "-a", src.name, "-o", f"{name}.c"], cwd=folder,
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            return _first_line(proc.stdout + proc.stderr, r":\d+:\d+:", "cython failed").replace(src.name, target.file.name)
        paths = sysconfig.get_paths()
        so = folder / f"{name}{sysconfig.get_config_var('EXT_SUFFIX')}"
        cmd = [cc, "-O3", "-shared", "-fPIC", "-fno-strict-aliasing", f"-I{paths['include']}", f"-I{paths['platinclude']}",
               f"{name}.c", "-o", so.name]
        proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, check=False)
        return "" if proc.returncode == 0 else "C compiler: " + _first_line(proc.stderr, r"error:", "compilation failed")

    failure, compile_s = _compile_once(folder, name, run)
    if failure:
        return Variant("cython", "failed", failure, compile_s=compile_s)
    notes = []
    loop = _loop_lines(target)
    html = folder / f"{name}.html"
    if loop and html.is_file():
        touching = cython_python_lines(html.read_text(encoding="utf-8"), loop)
        shown = ", ".join(map(str, touching[:12])) + (", ..." if len(touching) > 12 else "")
        notes.append(f"cython -a: {len(touching)} of {len(loop)} lines of the loop still touch Python objects"
                     + (f" (lines {shown}): give their variables C types (cython.double, cython.Py_ssize_t)" if touching else ""))
    try:
        fn, so_path, load_s = _load(name, folder, target)
    except Exception as exc:  # importing the compiled module failed: the route failed, say why
        return Variant("cython", "failed", f"importing the compiled module raised {type(exc).__name__}: {exc}", compile_s=compile_s)
    return Variant("cython", "ok", fn=fn, compile_s=compile_s, setup_s=load_s, notes=notes,
                   swap={"how": "extension", "ext_name": name, "ext_path": so_path})


def _missing_annotations(fn: Callable[..., Any]) -> list[str]:
    sig = inspect.signature(fn)
    missing = [p.name for p in sig.parameters.values() if p.annotation is inspect.Parameter.empty]
    if sig.return_annotation is inspect.Signature.empty:
        missing.append("the return")
    return missing


def _mypyc(target: Target, workdir: Path) -> Variant:
    if importlib.util.find_spec("mypyc") is None:
        return Variant("mypyc", "unavailable", "mypy (which ships mypyc) is not installed (pip install 'ffilab[advise]')")
    if _compiler() is None:
        return Variant("mypyc", "unavailable", "no C compiler found (cc, gcc)")
    missing = _missing_annotations(target.fn)
    if missing:
        return Variant("mypyc", "unavailable", f"mypyc compiles annotated code: {', '.join(missing)} of {target.name} lack annotations")
    name, src = _module_copy(target, workdir, "mypyc")
    folder = src.parent

    def run() -> str:
        env = dict(os.environ, MYPY_CACHE_DIR=str(folder / ".mypy_cache"), PYTHONWARNINGS="ignore")
        proc = subprocess.run([sys.executable, "-m", "mypyc", src.name], cwd=folder, capture_output=True, text=True, check=False, env=env)
        if proc.returncode != 0:
            return _first_line(proc.stdout + proc.stderr, r": error:", "mypyc failed").replace(src.name, target.file.name)
        return ""

    failure, compile_s = _compile_once(folder, name, run)
    if failure:
        return Variant("mypyc", "failed", failure, compile_s=compile_s)
    try:
        fn, so_path, load_s = _load(name, folder, target)
    except Exception as exc:  # importing the compiled module failed: the route failed, say why
        return Variant("mypyc", "failed", f"importing the compiled module raised {type(exc).__name__}: {exc}", compile_s=compile_s)
    return Variant("mypyc", "ok", fn=fn, compile_s=compile_s, setup_s=load_s,
                   swap={"how": "extension", "ext_name": name, "ext_path": so_path})
