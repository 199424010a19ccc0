"""Build step of the mypyc route: have mypyc turn the pure-Python reference into C, and stop there.

Usage: ``python _build_mypyc.py REFERENCE CONTRACT OUTDIR``

mypyc's own setuptools helper (``mypycify``) would also compile that C, with flags of its own
(``-O3 -g1 -Werror`` on top of CPython's ``CFLAGS``).  This script calls only the part of mypyc that
``mypycify`` itself calls to write the C (``mypyc.build.mypyc_build``, then mypyc's shim writer), so
that CMake compiles the result with the flags every other route gets.  Under OUTDIR it writes:

``src/``
    A staging tree in which the reference (``routes/python/__init__.py``) is copied, unchanged, as
    module ``ffilab.routes.mypyc._ext`` -- the name its compiled functions report as
    ``__module__`` -- beside copies of ``ffilab/contract.py`` and the ``ffilab/_cache.py`` it
    imports, which mypy reads for their types only (they are not compiled: at run time the
    compiled module imports the installed ``ffilab.contract``).
    The staged packages' ``__init__.py`` files are empty, so mypy does not wander through the rest
    of ffilab.
``c/``
    The C that mypyc generates (file names are mypyc's business) and its IR listing, ``ops.txt``.
``_ext__mypyc.c``, ``_ext_shim.c``
    The two files CMake compiles.  The first ``#include``-s the C that mypyc generated and becomes
    ``ffilab.routes.mypyc._ext__mypyc``, the module mypyc calls the group's shared library: all
    the compiled code.  The second is mypyc's shim, which becomes ``ffilab.routes.mypyc._ext`` and
    hands its initialisation over to the first.  mypyc builds any module inside a package this way.

One edit is made to mypyc's output: mypyc ignores ``/`` in a signature, and the reference's
single-argument kernels are positional-only, so the empty names that CPython's convention (and
mypyc's own argument parser) uses for positional-only parameters are written into the wrappers'
``kwlist`` (``_enforce_positional_only``).  Without it ``circle_area(radius=2.0)`` would work here
and raise TypeError in every other route.

A type error in the reference, or anything mypyc cannot compile, fails the build with mypy's
messages: the route is never replaced by the interpreted module.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import sys
from pathlib import Path

MODULE = "ffilab.routes.mypyc._ext"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _stage(reference: Path, contract: Path, src: Path) -> Path:
    pkg = src / "ffilab"
    _write(pkg / "__init__.py", "")
    _write(pkg / "routes" / "__init__.py", "")
    _write(pkg / "routes" / "mypyc" / "__init__.py", "")
    _write(pkg / "contract.py", contract.read_text(encoding="utf-8"))
    # The contract imports ffilab._cache (where the tokenizer's table is kept between processes).
    _write(pkg / "_cache.py", (contract.parent / "_cache.py").read_text(encoding="utf-8"))
    ext = pkg / "routes" / "mypyc" / "_ext.py"
    _write(ext, reference.read_text(encoding="utf-8"))
    return ext


def _positional_only(source: str) -> dict[str, list[str]]:
    """Map the name of each compiled wrapper to its positional-only parameters (``self`` excluded)."""
    found: dict[str, list[str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.args.posonlyargs:
            found[f"CPyPy_{node.name}"] = [a.arg for a in node.args.posonlyargs]
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.args.posonlyargs:
                    # mypyc takes self apart, the other parameters by name from kwlist.
                    names = [a.arg for a in item.args.posonlyargs][1:]
                    if names:
                        found[f"CPyPy_{node.name}___{item.name}"] = names
    return found


def _enforce_positional_only(ctext: str, wanted: dict[str, list[str]]) -> str:
    """Mark the reference's positional-only parameters as such in mypyc's argument parsers.

    mypyc (up to at least mypy 2.4) ignores ``/``: every parameter goes into the ``kwlist`` of its
    wrapper by name, so ``circle_area(radius=2.0)`` would be accepted where the reference raises
    TypeError.  Its argument parser (lib-rt/getargsfast.c, taken from CPython's) already
    understands CPython's convention for positional-only parameters, a leading empty name in
    ``kwlist``; this writes those empty names.  Nothing else in the wrapper changes.  A wrapper not
    found in the expected form fails the build, rather than leaving the route quietly different.
    """
    for wrapper, names in wanted.items():
        pattern = re.compile(
            r"(PyObject \*" + re.escape(wrapper) + r"\(PyObject \*self,[^{]*\{[^{}]*?"
            r"static const char \* const kwlist\[\] = \{)([^}]*)(\};)"
        )
        match = pattern.search(ctext)
        if match is None:
            raise SystemExit(f"mypyc: wrapper {wrapper} not found in the generated C")
        entries = [e.strip() for e in match.group(2).split(",") if e.strip()]
        head = [e.strip('"') for e in entries[: len(names)]]
        if head != names and head != [""] * len(names):
            raise SystemExit(f"mypyc: kwlist of {wrapper} is {entries}, expected to start with {names}")
        entries[: len(names)] = ['""'] * len(names)
        ctext = ctext[: match.start(2)] + ", ".join(entries) + ctext[match.end(2) :]
    return ctext


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    reference, contract, outdir = Path(argv[1]), Path(argv[2]), Path(argv[3]).resolve()
    src, cdir = outdir / "src", outdir / "c"
    ext = _stage(reference, contract, src)

    from mypyc.build import generate_c_extension_shim, mypyc_build
    from mypyc.options import CompilerOptions

    # This runs only when an input changed: start from an empty folder, so no stale file survives.
    shutil.rmtree(cdir, ignore_errors=True)
    # include_runtime_files: the lib-rt sources are #included by the generated C (one translation
    # unit, as mypycify builds a single group), rather than compiled as separate objects.
    options = CompilerOptions(target_dir=str(cdir), include_runtime_files=True)
    mypy_args = [
        # No user or project mypy configuration may change what is compiled.
        "--config-file=",
        "--cache-dir=" + os.devnull,
        # Type-check the staged package against itself (src/ is its root).
        "--explicit-package-bases",
        str(ext),
        str(src / "ffilab" / "contract.py"),
    ]
    cwd = os.getcwd()
    os.chdir(src)  # mypy maps the files to modules relative to the current directory
    try:
        groups, group_files, source_deps = mypyc_build(
            mypy_args, options, only_compile_paths=[str(ext)]
        )
    finally:
        os.chdir(cwd)

    if len(groups) != 1 or [s.module for s in groups[0][0]] != [MODULE] or groups[0][1] is None:
        raise SystemExit(f"mypyc: expected one shared-library group holding {MODULE}, got {groups}")
    if source_deps:
        # A librt module the generated code would need compiled beside it: not used by the kernels.
        raise SystemExit(f"mypyc: unexpected extra runtime sources {source_deps}")
    cfiles, _deps = group_files[0]
    lib_group = groups[0][1]
    wanted = _positional_only(ext.read_text(encoding="utf-8"))
    for cfile in map(Path, cfiles):
        text = cfile.read_text(encoding="utf-8")
        mine = {w: n for w, n in wanted.items() if f"*{w}(PyObject *self," in text}
        if mine:
            _write(cfile, _enforce_positional_only(text, mine))
            wanted = {w: n for w, n in wanted.items() if w not in mine}
    if wanted:
        raise SystemExit(f"mypyc: wrappers {sorted(wanted)} not found in the generated C")

    # One translation unit for CMake, whatever mypyc named its files.  The generated C #includes
    # lib-rt's .c files itself (include_runtime_files), found on lib-rt's include directory.
    unity = [f"/* Written by {Path(__file__).name}: the C that mypyc generated for {MODULE}. */"]
    unity += [f'#include "{Path(c).resolve().as_posix()}"' for c in cfiles]
    _write(outdir / "_ext__mypyc.c", "\n".join(unity) + "\n")

    # The shim module, written by mypyc's own function (as mypycify writes it).
    shim = generate_c_extension_shim(MODULE, MODULE.rsplit(".", 1)[1], str(cdir), lib_group)
    _write(outdir / "_ext_shim.c", Path(shim).read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
