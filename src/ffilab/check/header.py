"""C prototypes from real headers: the system preprocessor, then pycparser, then typedefs resolved.

Why pycparser (pure Python, already installed with cffi) and not libclang from PyPI: both parse
``csrc/ffilab_core.h``, but the ``libclang`` wheel ships no compiler builtin headers, so a header
that includes ``<stddef.h>`` gets "'stddef.h' file not found" and clang's error recovery then
silently turns ``size_t n`` into ``int n`` -- exactly the kind of wrong answer this checker exists
to catch -- and the wheel is 24 MB.  pycparser cannot preprocess, so the header goes through the
machine's own C preprocessor (``$CC -E``, else ``cc``/``gcc``/``clang``), whose builtin headers are
the ones the library was compiled with; the GNU extensions in glibc's headers (``__attribute__``,
``__asm__``, ``__restrict``, ``_Float128``...) are defined away on the command line.  Parsing
``csrc/ffilab_core.h`` with ``<stdint.h>`` this way takes about 0.2 s.

Allocator annotations: a declaration whose comment (the comment block just above it, or one on
its line) says "release it with NAME", "free it with NAME", "freed with NAME", "released with
NAME" or "release *out with NAME", where NAME is a function the headers declare, returns memory the caller must pass to NAME
(through its result if it returns a pointer, else through its first ``T **`` parameter).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pycparser import c_ast, c_parser

from ffilab.check.typemodel import CType

__all__ = ["AllocSpec", "HeaderError", "HeaderSet", "Param", "Prototype", "load_headers", "parse_cdef"]


class HeaderError(ValueError):
    """A header (or a cffi ``cdef``) cannot be read, preprocessed or parsed, or two disagree."""


@dataclass(frozen=True)
class Param:
    """One parameter of a prototype: its name (``""`` when unnamed) and C type."""

    name: str
    ctype: CType


@dataclass(frozen=True)
class Prototype:
    """A C function declaration: name, return type, parameters and where it was declared."""

    name: str
    ret: CType
    params: tuple[Param, ...]
    variadic: bool
    file: str
    line: int
    free_with: str | None = None

    def signature(self) -> str:
        """The prototype as C text: ``double *compute_distances(const double *points, size_t n)``."""
        args = ", ".join(f"{p.ctype.spelling}{'' if p.ctype.spelling.endswith('*') else ' '}{p.name}".rstrip() for p in self.params)
        if self.variadic:
            args += ", ..."
        sep = "" if self.ret.spelling.endswith("*") else " "
        return f"{self.ret.spelling}{sep}{self.name}({args or 'void'})"

    def shape(self) -> tuple[object, ...]:
        """What the ABI sees (kinds, widths, signs, pointer depths): equal shapes are compatible."""

        def one(t: CType) -> tuple[object, ...]:
            return (t.kind, t.size, t.signed or t.plain_char, one(t.pointee) if t.pointee is not None else None)

        return (one(self.ret), tuple(one(p.ctype) for p in self.params), self.variadic)


@dataclass(frozen=True)
class AllocSpec:
    """How a function hands out memory: the function that frees it, and through which value
    (``out_index`` is the ``T **`` parameter's index, ``None`` for the returned pointer)."""

    free: str
    out_index: int | None
    source: str


@dataclass
class HeaderSet:
    """Every prototype of the given headers by name, and the allocator/free pairs."""

    prototypes: dict[str, Prototype] = field(default_factory=dict)
    allocators: dict[str, AllocSpec] = field(default_factory=dict)
    files: tuple[str, ...] = ()

    def get(self, name: str) -> Prototype | None:
        """The prototype of ``name``, or ``None`` when no header declares it."""
        return self.prototypes.get(name)

    def frees(self) -> set[str]:
        """Names of the functions that release an allocator's memory."""
        return {a.free for a in self.allocators.values()}

    def add_allocators(self, pairs: Mapping[str, str], source: str) -> None:
        """Add ``allocator -> free`` pairs (from a project's configuration, named by ``source``).

        Raises
        ------
        HeaderError
            If a declared allocator's free function is not declared, or the allocator hands out
            no pointer (neither returns one nor has a ``T **`` parameter).
        """
        for alloc, free in pairs.items():
            proto = self.prototypes.get(alloc)
            if proto is None:
                continue  # a pair for a library none of the given headers describes
            if free not in self.prototypes:
                raise HeaderError(f"{source}: allocator {alloc} is freed by {free!r}, which no header declares")
            self.allocators[alloc] = AllocSpec(free, _out_index(proto, source), source)


def _out_index(proto: Prototype, source: str) -> int | None:
    if proto.ret.kind == "pointer":
        return None
    for i, p in enumerate(proto.params):
        if p.ctype.depth() >= 2:
            return i
    raise HeaderError(f"{source}: {proto.name} is marked as allocating but returns no pointer and has no T ** parameter")


# glibc's headers use GNU C that pycparser does not parse; these leave standard C behind.
_GNU_STUBS = (
    "-D__attribute__(x)=", "-D__extension__=", "-D__restrict=", "-D__restrict__=", "-D__inline=inline",
    "-D__inline__=inline", "-D__asm__(x)=", "-D__asm(x)=", "-D__volatile__=volatile", "-D__signed__=signed",
    "-D__builtin_va_list=void *", "-D_Float128=long double", "-D_Float64x=long double", "-D_Float64=double",
    "-D_Float32x=double", "-D_Float32=float", "-D_Float16=float", "-D__float128=long double",
    "-D__int128=long long", "-D_Noreturn=", "-D__typeof__(x)=int", "-D_Static_assert(a,b)=",
    "-D__declspec(x)=",
)

_BASE: dict[str, tuple[str, int, bool]] = {
    "char": ("int", 1, True), "short": ("int", 2, True), "int": ("int", 4, True), "long": ("int", 8, True),
    "float": ("float", 4, True), "double": ("float", 8, True), "_Bool": ("int", 1, False),
}

_FREE_PHRASE = re.compile(r"\b(?:free|release)d?\s+(?:\*?\w+\s+)?with\s+`?([A-Za-z_]\w*)", re.IGNORECASE)
_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)

# Standard typedefs for cffi cdef text, which is parsed without a preprocessor (LP64).
_CDEF_PRELUDE = """
typedef unsigned long size_t; typedef long ssize_t; typedef long ptrdiff_t; typedef long intptr_t;
typedef unsigned long uintptr_t; typedef signed char int8_t; typedef unsigned char uint8_t;
typedef short int16_t; typedef unsigned short uint16_t; typedef int int32_t; typedef unsigned int uint32_t;
typedef long int64_t; typedef unsigned long uint64_t; typedef _Bool bool; typedef int wchar_t;
"""


class _Resolver:
    """Turns pycparser type nodes into :class:`CType`, following typedefs."""

    def __init__(self, typedefs: dict[str, c_ast.Node]) -> None:
        self.typedefs = typedefs

    def resolve(self, node: c_ast.Node, depth: int = 0) -> CType:
        if depth > 64:
            raise HeaderError("typedefs nest too deeply (a cycle?)")
        if isinstance(node, c_ast.Typename | c_ast.Decl):
            return self.resolve(node.type, depth + 1)
        if isinstance(node, c_ast.PtrDecl):
            inner = self.resolve(node.type, depth + 1)
            quals = " ".join(node.quals)
            spelling = f"{inner.spelling} *" if not inner.spelling.endswith("*") else f"{inner.spelling}*"
            return CType("pointer", spelling + (f" {quals}" if quals else ""), 8, False, inner)
        if isinstance(node, c_ast.ArrayDecl):
            inner = self.resolve(node.type, depth + 1)
            return CType("pointer", f"{inner.spelling} *", 8, False, inner)
        if isinstance(node, c_ast.FuncDecl):
            return CType("function", "function")
        if isinstance(node, c_ast.TypeDecl):
            quals = " ".join(node.quals)
            base = self._base(node.type, depth)
            if quals:
                return CType(base.kind, f"{quals} {base.spelling}", base.size, base.signed, base.pointee, base.plain_char)
            return base
        return CType("other", type(node).__name__)

    def _base(self, node: c_ast.Node, depth: int) -> CType:
        if isinstance(node, c_ast.IdentifierType):
            names = list(node.names)
            spelling = " ".join(names)
            if len(names) == 1 and names[0] in self.typedefs:
                target = self.resolve(self.typedefs[names[0]], depth + 1)
                if target.kind == "pointer":
                    return target
                return CType(target.kind, names[0], target.size, target.signed, target.pointee, target.plain_char)
            return _base_type(names, spelling)
        if isinstance(node, c_ast.Struct):
            return CType("struct", f"struct {node.name or '<anonymous>'}")
        if isinstance(node, c_ast.Union):
            return CType("struct", f"union {node.name or '<anonymous>'}")
        if isinstance(node, c_ast.Enum):
            return CType("int", f"enum {node.name or '<anonymous>'}", 4, True)
        return CType("other", type(node).__name__)


def _base_type(names: list[str], spelling: str) -> CType:
    if names == ["void"]:
        return CType("void", "void")
    unsigned = "unsigned" in names
    core = [n for n in names if n not in ("signed", "unsigned", "const", "volatile")]
    if "double" in core:
        return CType("float", spelling, 16 if "long" in core else 8, True)
    if core.count("long") >= 1:
        return CType("int", spelling, 8, not unsigned)
    if not core:
        return CType("int", spelling, 4, not unsigned)
    spec = _BASE.get(core[0])
    if spec is None:
        return CType("other", spelling)
    kind, size, signed = spec
    plain = core[0] == "char" and "signed" not in names and not unsigned
    return CType(kind, spelling, size, signed and not unsigned, None, plain)  # type: ignore[arg-type]


def _preprocessor() -> list[str]:
    cc = os.environ.get("CC")
    if cc:
        return [*cc.split(), "-E"]
    for name in ("cc", "gcc", "clang"):
        found = shutil.which(name)
        if found:
            return [found, "-E"]
    raise HeaderError("no C preprocessor found: install a C compiler (cc, gcc or clang) or set CC")


def _preprocess(path: Path, include_dirs: Iterable[str], defines: Iterable[str]) -> str:
    cmd = [*_preprocessor(), "-std=c11", *_GNU_STUBS, *(f"-I{d}" for d in include_dirs), *(f"-D{d}" for d in defines), str(path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HeaderError(f"{path}: the C preprocessor failed to run: {exc}") from None
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr.strip()[:300])
        raise HeaderError(f"{path}: the C preprocessor rejected it: {first.strip()}")
    return proc.stdout


def _comments_by_end_line(text: str) -> dict[int, list[tuple[int, str]]]:
    # {end line: [(start line, comment text)]}, lines counted from 1.
    out: dict[int, list[tuple[int, str]]] = {}
    for m in _COMMENT.finditer(text):
        start = text.count("\n", 0, m.start()) + 1
        end = start + m.group(0).count("\n")
        out.setdefault(end, []).append((start, m.group(0)))
    return out


def _attached_comment(comments: dict[int, list[tuple[int, str]]], line: int) -> str:
    # The comment on the declaration's line, and the block that ends just above it
    # (consecutive // lines are one block).
    parts = [c for start, c in comments.get(line, []) if start == line]
    above = line - 1
    while above in comments:
        start, c = comments[above][-1]
        parts.insert(0, c)
        if not c.startswith("//"):
            break
        above = start - 1
    return "\n".join(parts)


def _parse(text: str, source: str) -> c_ast.FileAST:
    try:
        return c_parser.CParser().parse(text, source)
    except Exception as exc:  # pycparser raises ParseError and, on odd input, plain errors
        raise HeaderError(f"{source}: cannot parse as C: {exc}") from None


def _prototypes(ast: c_ast.FileAST, wanted: str | None, label: str) -> dict[str, Prototype]:
    typedefs = {e.name: e.type for e in ast.ext if isinstance(e, c_ast.Typedef)}
    resolver = _Resolver(typedefs)
    out: dict[str, Prototype] = {}
    for ext in ast.ext:
        decl = ext.decl if isinstance(ext, c_ast.FuncDef) else ext
        if not isinstance(decl, c_ast.Decl) or not isinstance(decl.type, c_ast.FuncDecl):
            continue
        coord = decl.coord
        if wanted is not None and (coord is None or os.path.realpath(str(coord.file)) != wanted):
            continue  # declared by an included system or other header
        func: c_ast.FuncDecl = decl.type
        params: list[Param] = []
        variadic = False
        for i, p in enumerate(func.args.params if func.args is not None else []):
            if isinstance(p, c_ast.EllipsisParam):
                variadic = True
                continue
            t = resolver.resolve(p)
            if t.kind == "void" and not getattr(p, "name", None):
                continue  # f(void)
            params.append(Param(getattr(p, "name", None) or f"arg{i + 1}", t))
        ret = resolver.resolve(func.type)
        out[decl.name] = Prototype(decl.name, ret, tuple(params), variadic, label, coord.line if coord else 0)
    return out


def _merge(into: HeaderSet, protos: dict[str, Prototype]) -> None:
    for name, proto in protos.items():
        old = into.prototypes.get(name)
        if old is not None and old.shape() != proto.shape():
            raise HeaderError(
                f"{name} is declared differently in {old.file}:{old.line} ({old.signature()}) "
                f"and {proto.file}:{proto.line} ({proto.signature()})"
            )
        into.prototypes.setdefault(name, proto)


def load_headers(
    paths: Iterable[str | os.PathLike[str]],
    include_dirs: Iterable[str] = (),
    defines: Iterable[str] = (),
) -> HeaderSet:
    """Parse C headers into a :class:`HeaderSet` (prototypes and annotated allocator pairs).

    Parameters
    ----------
    paths : iterable of path-like
        The headers; only functions declared in these files (not in what they include) count.
    include_dirs, defines : iterable of str
        Extra ``-I`` directories and ``-D`` macros for the preprocessor.

    Raises
    ------
    HeaderError
        If a header is missing, the preprocessor or the parser rejects it, or two headers
        declare one function with different prototypes.
    """
    hs = HeaderSet()
    files: list[str] = []
    annotated: list[tuple[Prototype, str]] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise HeaderError(f"header {str(path)!r} does not exist or is not a file")
        try:
            source_text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise HeaderError(f"header {str(path)!r} cannot be read: {exc}") from None
        text = _preprocess(path, include_dirs, defines)
        protos = _prototypes(_parse(text, str(path)), os.path.realpath(path), str(path))
        comments = _comments_by_end_line(source_text)
        for proto in protos.values():
            m = _FREE_PHRASE.search(_attached_comment(comments, proto.line))
            if m:
                annotated.append((proto, m.group(1)))
        _merge(hs, protos)
        files.append(str(path))
    hs.files = tuple(files)
    for proto, free in annotated:
        # Prose like "free it with care" names no declared function: not an annotation.
        if free in hs.prototypes and free != proto.name:
            hs.prototypes[proto.name] = Prototype(proto.name, proto.ret, proto.params, proto.variadic, proto.file, proto.line, free)
            hs.allocators[proto.name] = AllocSpec(free, _out_index(proto, f"{proto.file}:{proto.line}"), f"{proto.file}:{proto.line}")
    return hs


def parse_cdef(text: str, source: str) -> dict[str, Prototype]:
    """The function prototypes of a cffi ``cdef`` string (``source`` names it in errors).

    Raises
    ------
    HeaderError
        If the text is not C declarations pycparser can parse (cffi's ``...`` is blanked out).
    """
    # cffi accepts comments and "..." (members, values); pycparser neither.  Lines are kept.
    cleaned = _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n") + " ", text)
    cleaned = re.sub(r"\.\.\.(?!\s*\))", "", cleaned)
    ast = _parse(_CDEF_PRELUDE + cleaned, source)
    protos = _prototypes(ast, None, source)
    offset = _CDEF_PRELUDE.count("\n")
    return {n: Prototype(p.name, p.ret, p.params, p.variadic, p.file, max(1, p.line - offset)) for n, p in protos.items()}
