"""The static checker: an abstract interpretation of a Python file's ctypes/cffi use.

The file is executed symbolically (never imported): names are bound to what the checker can
know about them -- a library handle (``ctypes.CDLL(...)``, ``cdll.LoadLibrary``,
``np.ctypeslib.load_library``, cffi's ``ffi.dlopen``), a foreign function (``lib.name``,
``getattr(lib, "name")``, ``lib["name"]``, and any alias), a ctypes type (``c_double``,
``POINTER(c_float)``, ``c_float * n``, ``ndpointer(dtype=...)``), a ctypes buffer, a NumPy array
with its dtype, a length (``len(x)``), the result of a foreign call.  Helper functions called
with known arguments are followed into (so ``_declare("f", c_double, c_double)`` declares
``f``); loops over literal tables of declarations run once per row; every function and method
body is then also walked with unknown parameters.  What the walk records -- declarations,
calls, casts, cdefs -- is checked against the header's prototypes at the end, and the
allocation analysis of :mod:`ffilab.check.leaks` runs over the same tree.
"""

from __future__ import annotations

import ast
import builtins
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ffilab.check.header import HeaderError, HeaderSet, Prototype, parse_cdef
from ffilab.check.leaks import find_leaks
from ffilab.check.rules import Finding
from ffilab.check.typemodel import CType, PyType, ctypes_simple, dtype_elem, elem_mismatch, mismatch

__all__ = ["CheckError", "check_source"]


class CheckError(ValueError):
    """The Python file cannot be checked: it does not parse, or it uses a foreign function that
    no header declares.  ``path``, ``line`` and ``col`` say where."""

    def __init__(self, path: str, line: int, col: int, message: str) -> None:
        super().__init__(f"{path}:{line}:{col}: {message}")
        self.path, self.line, self.col, self.message = path, line, col, message


# ----------------------------------------------------------------------------- abstract values
class _Unknown:
    def __repr__(self) -> str:
        return "?"


UNKNOWN: Any = _Unknown()


@dataclass
class Sym:
    """A module or a name inside one, by its qualified name (``numpy.ctypeslib.ndpointer``)."""

    qual: str


@dataclass
class Ffi:
    """A cffi ``FFI()`` object and the prototypes its ``cdef`` calls declared."""

    cdefs: dict[str, Prototype] = field(default_factory=dict)


@dataclass
class Lib:
    """A loaded library: ``ctypes`` (CDLL and friends) or ``cffi`` (``ffi.dlopen``)."""

    kind: str


@dataclass
class Func:
    """A foreign function of a library, by its C name."""

    name: str
    lib: Lib


@dataclass
class TypeV:
    """A ctypes type object."""

    t: PyType


@dataclass
class Inst:
    """An instance of a ctypes type; ``origin`` is where its type was chosen, ``src_dtype`` the
    dtype of the NumPy array it points into (``arr.ctypes.data_as(...)``)."""

    t: PyType
    origin: ast.AST | None = None
    src_dtype: str | None = None


@dataclass
class NpArr:
    """A NumPy array with its dtype (``None`` when unknown) and the call that made it."""

    dtype: str | None
    origin: ast.AST | None = None


@dataclass
class Addr:
    """``arr.ctypes.data``: the integer address of an array's data."""

    arr: NpArr


@dataclass
class Method:
    """A bound method the checker understands (``arr.astype``, ``ffi.cdef``, ``T.from_address``)."""

    name: str
    obj: Any


@dataclass
class Result:
    """The value a foreign function returned: its C type is the prototype's return type."""

    func: str
    ctype: CType


@dataclass
class Length:
    """An integer that is a length or size of something (``len(x)``, ``a.size``, ``a.shape[0]``)."""


@dataclass
class Str:
    """A string, with the expression that wrote it (where a function name is spelled)."""

    value: str
    node: ast.AST | None = None


@dataclass
class DType:
    name: str


@dataclass
class Seq:
    """A list or tuple; ``nodes`` are the expressions its items came from (for locations)."""

    items: list[Any]
    nodes: list[ast.AST | None]


@dataclass
class DictV:
    items: dict[str, Any]


@dataclass
class Obj:
    """An instance of a class defined in the file (``self``): its attributes, then its class's."""

    attrs: dict[str, Any] = field(default_factory=dict)
    cls_attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class ClassV:
    node: ast.ClassDef
    attrs: dict[str, Any]
    instance: Obj = field(default_factory=Obj)


@dataclass
class PyFunc:
    node: ast.FunctionDef | ast.AsyncFunctionDef
    env: Env
    cls: ClassV | None = None


@dataclass
class Bound:
    func: PyFunc
    self_value: Any


class Env:
    """A scope: its names, its parent scope, and the module scope (for ``global``)."""

    def __init__(self, parent: Env | None = None) -> None:
        self.vars: dict[str, Any] = {}
        self.parent = parent
        self.module: Env = parent.module if parent is not None else self
        self.globals: set[str] = set()

    def lookup(self, name: str) -> Any:
        env: Env | None = self
        while env is not None:
            if name in env.vars:
                return env.vars[name]
            env = env.parent
        if hasattr(builtins, name):
            return Sym(f"builtins.{name}")
        return UNKNOWN

    def set(self, name: str, value: Any) -> None:
        (self.module if name in self.globals else self).vars[name] = value


# ----------------------------------------------------------------------------- events
@dataclass
class _Decl:
    kind: str  # "argtypes" or "restype"
    func: Func
    value: Any
    node: ast.AST
    value_node: ast.AST


@dataclass
class _Call:
    func: Func
    args: list[Any]
    arg_nodes: list[ast.AST]
    node: ast.Call
    starred: bool


@dataclass
class _Read:
    how: str  # "cast" or "from_address"
    src: Any
    target: PyType
    node: ast.AST


_LOADERS = {
    "ctypes.CDLL", "ctypes.PyDLL", "ctypes.cdll.LoadLibrary", "ctypes.pydll.LoadLibrary",
    "numpy.ctypeslib.load_library", "ctypes.WinDLL", "ctypes.OleDLL",
}
_ARRAY_MAKERS = {"zeros", "empty", "ones", "full", "array", "asarray", "ascontiguousarray", "frombuffer",
                 "fromiter", "require", "zeros_like", "empty_like", "ones_like", "full_like", "linspace", "arange"}
_FLOAT_DEFAULT = {"zeros", "empty", "ones", "linspace"}
_DTYPE_ALIASES = {
    "float": "float64", "double": "float64", "float_": "float64", "float64": "float64", "single": "float32",
    "float32": "float32", "half": "float16", "float16": "float16", "longdouble": "longdouble",
    "int": "int64", "int_": "int64", "intp": "int64", "int64": "int64", "longlong": "int64", "int32": "int32",
    "intc": "int32", "int16": "int16", "short": "int16", "int8": "int8", "byte": "int8", "uint8": "uint8",
    "ubyte": "uint8", "uint16": "uint16", "uint32": "uint32", "uintc": "uint32", "uint64": "uint64",
    "uintp": "uint64", "uint": "uint64", "bool": "bool", "bool_": "bool",
    "f8": "float64", "<f8": "float64", "f4": "float32", "<f4": "float32", "i8": "int64", "<i8": "int64",
    "i4": "int32", "<i4": "int32", "u1": "uint8", "i1": "int8", "d": "float64", "f": "float32",
}
_MAX_DEPTH = 6
_MAX_ROWS = 256


def _dtype_of(value: Any) -> str | None:
    if isinstance(value, DType):
        return value.name
    if isinstance(value, Str):
        return _DTYPE_ALIASES.get(value.value)
    if isinstance(value, Sym):
        if value.qual == "builtins.float":
            return "float64"
        if value.qual == "builtins.int":
            return "int64"
        if value.qual == "builtins.bool":
            return "bool"
    if isinstance(value, TypeV) and value.t.kind in ("int", "float"):
        for dt in ("float64", "float32", "int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64"):
            e = dtype_elem(dt)
            if e is not None and (e.kind, e.size, e.signed) == (value.t.kind, value.t.size, value.t.signed):
                return dt
    return None


def _sym_value(qual: str) -> Any:
    head, _, last = qual.rpartition(".")
    if head in ("ctypes", "ctypes.wintypes"):
        simple = ctypes_simple(last)
        if simple is not None:
            return TypeV(simple)
    if head == "numpy" and last in _DTYPE_ALIASES:
        return DType(_DTYPE_ALIASES[last])
    return Sym(qual)


def _pointer_to(t: PyType | None) -> PyType:
    if t is None:
        return PyType("pointer", "POINTER(?)", 8, False, PyType("other", "?"))
    return PyType("pointer", f"POINTER({t.name})", 8, False, t)


class _Walker:
    """Executes a module's AST symbolically and records what it sees."""

    def __init__(self, path: str, headers: HeaderSet) -> None:
        self.path = path
        self.headers = headers
        self.decls: list[_Decl] = []
        self.calls: list[_Call] = []
        self.reads: list[_Read] = []
        # (the cdef call, its prototypes, the string literal holding them if it is one)
        self.cdefs: list[tuple[ast.AST, dict[str, Prototype], ast.AST | None]] = []
        self.func_of_node: dict[int, Func] = {}
        self.pending: list[tuple[PyFunc, Any]] = []
        self.walked: set[int] = set()
        self.stack: list[ast.AST] = []
        self.budget = 20000
        self.returns: list[list[Any]] = []
        self.call_sites: list[ast.AST] = []

    # -- names of foreign functions
    def _func(self, lib: Lib, name: str, node: ast.AST) -> Any:
        if name.startswith("_") and lib.kind == "ctypes":
            return UNKNOWN  # CDLL's own attributes (_handle, _name, _FuncPtr)
        if self.headers.get(name) is None:
            raise CheckError(self.path, getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1,
                             f"error: {name} is not declared in any header given ({', '.join(self.headers.files) or 'none'})")
        return Func(name, lib)

    # -- expressions
    def eval(self, node: ast.AST | None, env: Env) -> Any:
        if node is None:
            return UNKNOWN
        self.budget -= 1
        if self.budget < 0:
            return UNKNOWN
        value = self._eval(node, env)
        if isinstance(value, Func):
            self.func_of_node[id(node)] = value
        return value

    def _eval(self, node: ast.AST, env: Env) -> Any:
        if isinstance(node, ast.Name):
            return env.lookup(node.id)
        if isinstance(node, ast.Constant):
            return Str(node.value, node) if isinstance(node.value, str) else (None if node.value is None else UNKNOWN)
        if isinstance(node, ast.Attribute):
            return self._attribute(self.eval(node.value, env), node.attr, node)
        if isinstance(node, ast.Call):
            return self._call(node, env)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            items: list[Any] = []
            nodes: list[ast.AST | None] = []
            for elt in node.elts:
                if isinstance(elt, ast.Starred):
                    inner = self.eval(elt.value, env)
                    if isinstance(inner, Seq):
                        items += inner.items
                        nodes += inner.nodes
                    else:
                        return UNKNOWN
                else:
                    items.append(self.eval(elt, env))
                    nodes.append(elt)
            return Seq(items, nodes)
        if isinstance(node, ast.Dict):
            d: dict[str, Any] = {}
            for k, v in zip(node.keys, node.values):
                key = self.eval(k, env) if k is not None else UNKNOWN
                val = self.eval(v, env)
                if isinstance(key, Str):
                    d[key.value] = val
            return DictV(d)
        if isinstance(node, ast.BinOp):
            left, right = self.eval(node.left, env), self.eval(node.right, env)
            if isinstance(node.op, ast.Mult) and isinstance(left, TypeV):
                return TypeV(PyType("array", f"{left.t.name} * n", 8, False, left.t))
            if isinstance(left, Length) or isinstance(right, Length):
                return Length()
            return UNKNOWN
        if isinstance(node, ast.Subscript):
            base = self.eval(node.value, env)
            index = self.eval(node.slice, env)
            if isinstance(base, Seq) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int):
                i = node.slice.value
                return base.items[i] if -len(base.items) <= i < len(base.items) else UNKNOWN
            if isinstance(base, DictV) and isinstance(index, Str):
                return base.items.get(index.value, UNKNOWN)
            if isinstance(base, Method) and base.name == "shape":
                return Length()
            if isinstance(base, Lib) and isinstance(index, Str):
                return self._func(base, index.value, index.node or node)
            return UNKNOWN
        if isinstance(node, ast.IfExp):
            self.eval(node.test, env)
            a, b = self.eval(node.body, env), self.eval(node.orelse, env)
            return a if a is not UNKNOWN else b
        if isinstance(node, ast.NamedExpr):
            value = self.eval(node.value, env)
            env.set(node.target.id, value)
            return value
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            inner = Env(env)
            for gen in node.generators:
                self.eval(gen.iter, inner)
                self._bind(gen.target, UNKNOWN, inner)
                for cond in gen.ifs:
                    self.eval(cond, inner)
            if isinstance(node, ast.DictComp):
                self.eval(node.key, inner)
                self.eval(node.value, inner)
            else:
                self.eval(node.elt, inner)
            return UNKNOWN
        if isinstance(node, ast.Lambda):
            return UNKNOWN
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.eval(child, env)
        return UNKNOWN

    def _attribute(self, base: Any, attr: str, node: ast.AST) -> Any:
        if isinstance(base, Sym):
            return _sym_value(f"{base.qual}.{attr}")
        if isinstance(base, Lib):
            return self._func(base, attr, node)
        if isinstance(base, Obj):
            if attr in base.attrs:
                return base.attrs[attr]
            value = base.cls_attrs.get(attr, UNKNOWN)
            return Bound(value, base) if isinstance(value, PyFunc) else value
        if isinstance(base, ClassV):
            return base.attrs.get(attr, UNKNOWN)
        if isinstance(base, NpArr):
            if attr == "ctypes":
                return Method("ctypes", base)
            if attr == "size":
                return Length()
            if attr == "shape":
                return Method("shape", base)
            if attr in ("astype", "view"):
                return Method(attr, base)
            if attr == "T":
                return base
            return UNKNOWN
        if isinstance(base, Method) and base.name == "ctypes":
            if attr == "data":
                return Addr(base.obj)
            if attr == "data_as":
                return Method("data_as", base.obj)
            return UNKNOWN
        if isinstance(base, TypeV) and attr in ("from_address", "from_buffer"):
            return Method(attr, base)
        if isinstance(base, Ffi | DictV):
            return Method(attr, base)
        if isinstance(base, Result) and attr == "value":
            return base  # cast(p, c_void_p).value: the same memory, as an int
        if base is UNKNOWN and attr in ("astype", "ctypes"):
            return Method(attr, NpArr(None))  # an array of unknown dtype: astype() will say
        return UNKNOWN

    def _call(self, node: ast.Call, env: Env) -> Any:
        fn = self.eval(node.func, env)
        args: list[Any] = []
        arg_nodes: list[ast.AST] = []
        starred = False
        for a in node.args:
            if isinstance(a, ast.Starred):
                inner = self.eval(a.value, env)
                if isinstance(inner, Seq):
                    args += inner.items
                    arg_nodes += [n if n is not None else a for n in inner.nodes]
                else:
                    starred = True
            else:
                args.append(self.eval(a, env))
                arg_nodes.append(a)
        kwargs = {k.arg: self.eval(k.value, env) for k in node.keywords if k.arg is not None}
        for k in node.keywords:
            if k.arg is None:
                self.eval(k.value, env)
                starred = True
        return self._apply(fn, args, arg_nodes, kwargs, node, starred)

    def _apply(self, fn: Any, args: list[Any], arg_nodes: list[ast.AST], kwargs: dict[str, Any], node: ast.Call, starred: bool) -> Any:
        first = args[0] if args else UNKNOWN
        if isinstance(fn, Func):
            self.calls.append(_Call(fn, args, arg_nodes, node, starred))
            proto = self.headers.get(fn.name)
            return Result(fn.name, proto.ret) if proto is not None else UNKNOWN
        if isinstance(fn, TypeV):
            return Inst(fn.t, node)
        if isinstance(fn, PyFunc | Bound | ClassV):
            return self._inline(fn, args, kwargs, node, arg_nodes)
        if isinstance(fn, Method):
            return self._method(fn, args, kwargs, node)
        if not isinstance(fn, Sym):
            return UNKNOWN
        q = fn.qual
        if q in _LOADERS or q.startswith("ctypes.cdll.") or q.startswith("ctypes.pydll."):
            return Lib("ctypes")
        if q == "ctypes.POINTER":
            return TypeV(_pointer_to(first.t if isinstance(first, TypeV) else None))
        if q == "ctypes.pointer":
            return Inst(_pointer_to(first.t if isinstance(first, Inst) else None), node)
        if q == "ctypes.byref":
            return Inst(_pointer_to(first.t if isinstance(first, Inst) else None), first.origin if isinstance(first, Inst) else node)
        if q == "ctypes.cast":
            target = args[1] if len(args) > 1 else UNKNOWN
            if isinstance(target, TypeV):
                if isinstance(first, Result) and target.t.kind == "void_p":
                    return first  # the same memory, still known by its prototype
                self.reads.append(_Read("cast", first, target.t, node))
                src_dtype = first.src_dtype if isinstance(first, Inst) else None
                return Inst(target.t, node, src_dtype)
            return UNKNOWN
        if q == "numpy.ctypeslib.ndpointer":
            dt = _dtype_of(kwargs.get("dtype", first))
            return TypeV(PyType("ndpointer", f"ndpointer(dtype={dt})" if dt else "ndpointer()", 8, False, None, dt))
        if q == "numpy.dtype":
            dt = _dtype_of(first)
            return DType(dt) if dt else UNKNOWN
        head, _, last = q.rpartition(".")
        if head == "numpy" and last in _ARRAY_MAKERS:
            dtv = kwargs.get("dtype", args[1] if len(args) > 1 and last in ("zeros", "empty", "ones", "array", "asarray", "frombuffer", "ascontiguousarray") else UNKNOWN)
            dt = _dtype_of(dtv)
            if dt is None and dtv is UNKNOWN:
                if last in _FLOAT_DEFAULT:
                    dt = "float64"
                elif isinstance(first, NpArr) and last in ("asarray", "ascontiguousarray", "array", "require", "zeros_like", "empty_like", "ones_like", "full_like"):
                    dt = first.dtype
            return NpArr(dt, node)
        if q == "cffi.FFI":
            return Ffi()
        if q == "builtins.len":
            return Length()
        if q == "builtins.int" and isinstance(first, Length):
            return Length()
        if q in ("builtins.list", "builtins.tuple") and isinstance(first, Seq):
            return Seq(list(first.items), list(first.nodes))
        if q == "builtins.getattr" and len(args) >= 2 and isinstance(args[1], Str):
            return self._attribute(first, args[1].value, args[1].node or node)
        return UNKNOWN

    def _method(self, m: Method, args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
        first = args[0] if args else UNKNOWN
        if m.name in ("astype", "view") and isinstance(m.obj, NpArr):
            return NpArr(_dtype_of(kwargs.get("dtype", first)), node)
        if m.name == "data_as" and isinstance(m.obj, NpArr):
            if isinstance(first, TypeV):
                return Inst(first.t, node, m.obj.dtype)
            return UNKNOWN
        if m.name in ("from_address", "from_buffer") and isinstance(m.obj, TypeV):
            if m.name == "from_address":
                self.reads.append(_Read("from_address", first, m.obj.t, node))
            return Inst(m.obj.t, node)
        if isinstance(m.obj, Ffi):
            if m.name == "cdef" and isinstance(first, Str):
                try:
                    protos = parse_cdef(first.value, f"{self.path}:{node.lineno} (cdef)")
                except HeaderError as exc:
                    raise CheckError(self.path, node.lineno, node.col_offset + 1, f"error: {exc}") from None
                m.obj.cdefs.update(protos)
                literal = node.args[0] if node.args and isinstance(node.args[0], ast.Constant) else None
                self.cdefs.append((node, protos, literal))
                return None
            if m.name == "dlopen":
                return Lib("cffi")
            return UNKNOWN
        if isinstance(m.obj, DictV):
            if m.name == "items":
                return Seq([Seq([Str(k), v], [None, None]) for k, v in m.obj.items.items()], [None] * len(m.obj.items))
            if m.name == "keys":
                return Seq([Str(k) for k in m.obj.items], [None] * len(m.obj.items))
            if m.name == "values":
                return Seq(list(m.obj.items.values()), [None] * len(m.obj.items))
        return UNKNOWN

    # -- calls into the file's own functions
    def _inline(self, fn: PyFunc | Bound | ClassV, args: list[Any], kwargs: dict[str, Any], node: ast.AST,
                arg_nodes: list[ast.AST] | None = None) -> Any:
        if isinstance(fn, ClassV):
            init = fn.attrs.get("__init__")
            if isinstance(init, PyFunc):
                self._inline(Bound(init, fn.instance), args, kwargs, node, arg_nodes)
            return fn.instance
        self_value = None
        if isinstance(fn, Bound):
            self_value, fn = fn.self_value, fn.func
        if len(self.stack) >= _MAX_DEPTH or fn.node in self.stack:
            return UNKNOWN
        env = Env(fn.env)
        lead = [self_value] if self_value is not None else []
        nodes: list[ast.AST | None] = [None] * len(lead)
        nodes += arg_nodes if arg_nodes is not None else [None] * len(args)
        self._bind_params(fn.node.args, env, lead + args, kwargs, nodes)
        self.stack.append(fn.node)
        self.call_sites.append(node)
        self.returns.append([])
        try:
            self.exec_block(fn.node.body, env)
        finally:
            self.stack.pop()
            self.call_sites.pop()
            rets = self.returns.pop()
        if any(isinstance(n, ast.Yield | ast.YieldFrom) for n in ast.walk(fn.node)):
            return UNKNOWN
        return next((r for r in rets if r is not UNKNOWN), UNKNOWN)

    def _bind_params(self, a: ast.arguments, env: Env, args: list[Any], kwargs: dict[str, Any],
                     arg_nodes: list[ast.AST | None] | None = None) -> None:
        positional = [*a.posonlyargs, *a.args]
        for i, p in enumerate(positional):
            if i < len(args):
                env.set(p.arg, args[i])
            else:
                env.set(p.arg, kwargs.get(p.arg, UNKNOWN))
        if a.vararg is not None:
            rest = args[len(positional):]
            rest_nodes = (arg_nodes or [])[len(positional):]
            env.set(a.vararg.arg, Seq(list(rest), rest_nodes + [None] * (len(rest) - len(rest_nodes))))
        for p in a.kwonlyargs:
            env.set(p.arg, kwargs.get(p.arg, UNKNOWN))
        if a.kwarg is not None:
            env.set(a.kwarg.arg, UNKNOWN)

    # -- statements
    def exec_block(self, body: list[ast.stmt], env: Env) -> None:
        for stmt in body:
            self.exec_stmt(stmt, env)

    def _bind(self, target: ast.AST, value: Any, env: Env, value_node: ast.AST | None = None) -> None:
        if isinstance(target, ast.Name):
            env.set(target.id, value)
        elif isinstance(target, ast.Tuple | ast.List):
            items = value.items if isinstance(value, Seq) and len(value.items) == len(target.elts) else None
            for i, elt in enumerate(target.elts):
                self._bind(elt.value if isinstance(elt, ast.Starred) else elt, items[i] if items else UNKNOWN, env)
        elif isinstance(target, ast.Attribute):
            obj = self.eval(target.value, env)
            if isinstance(obj, Func) and target.attr in ("argtypes", "restype"):
                self.decls.append(_Decl(target.attr, obj, value, target, value_node or target))
            elif isinstance(obj, Obj | ClassV):
                obj.attrs[target.attr] = value
        elif isinstance(target, ast.Subscript):
            self.eval(target.value, env)
            self.eval(target.slice, env)

    def exec_stmt(self, stmt: ast.stmt, env: Env) -> None:
        if self.budget < 0:
            return
        if isinstance(stmt, ast.Assign):
            value = self.eval(stmt.value, env)
            for t in stmt.targets:
                self._bind(t, value, env, stmt.value)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self._bind(stmt.target, self.eval(stmt.value, env), env, stmt.value)
        elif isinstance(stmt, ast.AugAssign):
            self.eval(stmt.value, env)
        elif isinstance(stmt, ast.Expr):
            self.eval(stmt.value, env)
        elif isinstance(stmt, ast.Return):
            value = self.eval(stmt.value, env)
            if self.returns:
                self.returns[-1].append(value)
        elif isinstance(stmt, ast.If):
            self.eval(stmt.test, env)
            self.exec_block(stmt.body, env)
            self.exec_block(stmt.orelse, env)
        elif isinstance(stmt, ast.For | ast.AsyncFor):
            it = self.eval(stmt.iter, env)
            if isinstance(it, Seq) and 0 < len(it.items) <= _MAX_ROWS:
                for item in it.items:
                    self._bind(stmt.target, item, env)
                    self.exec_block(stmt.body, env)
            else:
                self._bind(stmt.target, UNKNOWN, env)
                self.exec_block(stmt.body, env)
            self.exec_block(stmt.orelse, env)
        elif isinstance(stmt, ast.While):
            self.eval(stmt.test, env)
            self.exec_block(stmt.body, env)
            self.exec_block(stmt.orelse, env)
        elif isinstance(stmt, ast.Try) or (hasattr(ast, "TryStar") and isinstance(stmt, ast.TryStar)):
            self.exec_block(stmt.body, env)
            for h in stmt.handlers:
                if h.name:
                    env.set(h.name, UNKNOWN)
                self.exec_block(h.body, env)
            self.exec_block(stmt.orelse, env)
            self.exec_block(stmt.finalbody, env)
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                self.eval(item.context_expr, env)
                if item.optional_vars is not None:
                    self._bind(item.optional_vars, UNKNOWN, env)
            self.exec_block(stmt.body, env)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            for d in stmt.decorator_list:
                self.eval(d, env)
            pf = PyFunc(stmt, env)
            env.set(stmt.name, pf)
            self.pending.append((pf, None))
        elif isinstance(stmt, ast.ClassDef):
            cls_env = Env(env)
            self.exec_block(stmt.body, cls_env)
            cls = ClassV(stmt, {})
            cls.instance.cls_attrs = cls.attrs
            for name, value in cls_env.vars.items():
                if isinstance(value, PyFunc):
                    value.cls = cls
                cls.attrs[name] = value
            env.set(stmt.name, cls)
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    env.set(alias.asname, Sym(alias.name))
                else:
                    top = alias.name.split(".")[0]
                    env.set(top, Sym(top))
        elif isinstance(stmt, ast.ImportFrom):
            if stmt.level == 0 and stmt.module:
                for alias in stmt.names:
                    if alias.name != "*":
                        env.set(alias.asname or alias.name, _sym_value(f"{stmt.module}.{alias.name}"))
        elif isinstance(stmt, ast.Global):
            env.globals.update(stmt.names)
        elif isinstance(stmt, ast.Match):
            self.eval(stmt.subject, env)
            for case in stmt.cases:
                self.exec_block(case.body, env)
        else:
            for child in ast.iter_child_nodes(stmt):
                if isinstance(child, ast.expr):
                    self.eval(child, env)

    def run(self, tree: ast.Module) -> None:
        module = Env()
        self.exec_block(tree.body, module)
        # Then every function and method body on its own (parameters unknown; methods see the
        # class's shared instance as self), __init__ first so its attributes are known.
        while True:
            todo = [p for p in self.pending if id(p[0].node) not in self.walked]
            if not todo:
                break
            pf, self_value = next((p for p in todo if p[0].node.name == "__init__"), todo[0])
            self.walked.add(id(pf.node))
            env = Env(pf.env)
            self_value = pf.cls.instance if pf.cls is not None else self_value
            params = [*pf.node.args.posonlyargs, *pf.node.args.args]
            self._bind_params(pf.node.args, env, [self_value] if self_value is not None and params else [], {})
            self.stack.append(pf.node)
            self.returns.append([])
            self.exec_block(pf.node.body, env)
            self.returns.pop()
            self.stack.pop()


# ----------------------------------------------------------------------------- the checks
def _loc(node: ast.AST | None, fallback: ast.AST) -> tuple[int, int]:
    n = node if node is not None and hasattr(node, "lineno") else fallback
    return getattr(n, "lineno", 1), getattr(n, "col_offset", 0) + 1


def _pytype_of_decl(value: Any) -> PyType | None:
    if value is None:
        return PyType("none", "None")
    if isinstance(value, TypeV):
        return value.t
    return None


def _is_c_int(t: CType) -> bool:
    return t.kind == "int" and t.size == 4 and t.signed


def _checks(w: _Walker, headers: HeaderSet) -> Iterator[Finding]:
    path = w.path
    argtypes_set = {d.func.name for d in w.decls if d.kind == "argtypes" and d.value is not None}
    restype_set = {d.func.name for d in w.decls if d.kind == "restype"}
    for d in w.decls:
        proto = headers.get(d.func.name)
        if proto is None or d.func.lib.kind != "ctypes":
            continue
        if d.kind == "restype":
            t = _pytype_of_decl(d.value)
            why = mismatch(t, proto.ret, is_return=True) if t is not None else None
            if why:
                line, col = _loc(d.value_node, d.node)
                yield Finding(path, line, col, "FFI003", f"{d.func.name}.restype: {why} ({proto.signature()})")
            continue
        if not isinstance(d.value, Seq):
            continue
        items = d.value.items
        if len(items) != len(proto.params) and not (proto.variadic and len(items) > len(proto.params)):
            line, col = _loc(d.value_node, d.node)
            yield Finding(path, line, col, "FFI002", f"{d.func.name}.argtypes lists {len(items)} type(s), C takes {len(proto.params)} ({proto.signature()})")
        for i, (item, param) in enumerate(zip(items, proto.params)):
            t = _pytype_of_decl(item)
            why = mismatch(t, param.ctype) if t is not None else None
            if why:
                line, col = _loc(d.value.nodes[i] if i < len(d.value.nodes) else None, d.value_node)
                yield Finding(path, line, col, "FFI002", f"{d.func.name}.argtypes[{i}] for parameter '{param.name}': {why}")
    for c in w.calls:
        proto = headers.get(c.func.name)
        if proto is None:
            continue
        line, col = _loc(c.node, c.node)
        if c.func.lib.kind == "ctypes":
            missing = []
            if proto.params and c.func.name not in argtypes_set:
                missing.append("argtypes")
            if proto.ret.kind not in ("void",) and not _is_c_int(proto.ret) and c.func.name not in restype_set:
                missing.append("restype")
            if missing:
                effects = []
                if "argtypes" in missing:
                    effects.append("nothing converts the arguments to the prototype's types (a Python int goes as a 32-bit C int)")
                if "restype" in missing:
                    what = "a pointer cut to 32 bits" if proto.ret.kind == "pointer" else "a C int"
                    effects.append(f"the {proto.ret.spelling} result is read as {what}")
                yield Finding(path, line, col, "FFI001", f"{c.func.name} is called without {' and '.join(missing)}: {'; '.join(effects)} ({proto.signature()})")
        if not c.starred and len(c.args) != len(proto.params) and not (proto.variadic and len(c.args) > len(proto.params)):
            yield Finding(path, line, col, "FFI010", f"{c.func.name} is called with {len(c.args)} argument(s), C takes {len(proto.params)} ({proto.signature()})")
        if c.func.lib.kind != "ctypes":
            continue
        for i, (value, param) in enumerate(zip(c.args, proto.params)):
            yield from _check_arg(path, c, i, value, param.name, param.ctype)
    for r in w.reads:
        if not isinstance(r.src, Result) or r.src.ctype.kind != "pointer" or r.src.ctype.pointee is None:
            continue
        elem = r.target.elem if r.target.kind in ("pointer", "array") else None
        if elem is None:
            continue
        why = elem_mismatch(elem, r.src.ctype.pointee)
        if why:
            line, col = _loc(r.node, r.node)
            via = f"through {r.target.name}" if r.how == "cast" else f"as {r.target.name} (from_address)"
            yield Finding(path, line, col, "FFI007", f"{r.src.func} returns {r.src.ctype.spelling}, read here {via}")
    for node, protos, literal in w.cdefs:
        for name, cp in protos.items():
            hp = headers.get(name)
            if hp is None or hp.shape() == cp.shape():
                continue
            line, col = _loc(node, node)
            if literal is not None:
                line, col = getattr(literal, "lineno", line) + cp.line - 1, 1  # the prototype's own line in the string
            yield Finding(path, line, col, "FFI009", f"cdef declares {cp.signature()}, the header {hp.file}:{hp.line} declares {hp.signature()}")


def _check_arg(path: str, c: _Call, i: int, value: Any, pname: str, ctype: CType) -> Iterator[Finding]:
    where = f"{c.func.name} argument {i + 1} ('{pname}', C {ctype.spelling})"
    arg_node = c.arg_nodes[i] if i < len(c.arg_nodes) else c.node
    if isinstance(value, Length) and ctype.kind == "int" and ctype.size <= 4:
        line, col = _loc(arg_node, c.node)
        yield Finding(path, line, col, "FFI008", f"{where} gets a length: it wraps above 2**31 - 1 elements")
        return
    if ctype.kind != "pointer" or ctype.pointee is None:
        if isinstance(value, Inst) and value.t.kind in ("int", "float", "pointer", "array", "void_p", "char_p"):
            why = mismatch(value.t, ctype)
            if why:
                line, col = _loc(arg_node, c.node)
                yield Finding(path, line, col, "FFI004", f"{where} gets a {value.t.name}: {why}")
        return
    pointee = ctype.pointee
    elem: PyType | None = None
    origin: ast.AST | None = None
    what = ""
    if isinstance(value, Inst):
        if value.src_dtype is not None:
            elem, origin, what = dtype_elem(value.src_dtype), value.origin, f"a pointer into a {value.src_dtype} array"
            if elem is not None and elem_mismatch(elem, pointee) is None and value.t.elem is not None:
                elem, what = value.t.elem, f"a {value.t.name}"
        elif value.t.kind in ("array", "pointer") and value.t.elem is not None:
            kind = "array" if value.t.kind == "array" else "pointer"
            elem, origin, what = value.t.elem, value.origin, f"a {value.t.elem.name} {kind}"
        elif value.t.kind in ("int", "float"):
            why = mismatch(value.t, ctype)
            if why:
                line, col = _loc(arg_node, c.node)
                yield Finding(path, line, col, "FFI004", f"{where} gets a {value.t.name}: {why}")
            return
    elif isinstance(value, NpArr | Addr):
        arr = value if isinstance(value, NpArr) else value.arr
        if arr.dtype is not None:
            elem, origin, what = dtype_elem(arr.dtype), arr.origin, f"a {arr.dtype} array"
    if elem is None:
        return
    why = elem_mismatch(elem, pointee)
    if why:
        line, col = _loc(origin, arg_node)
        made = f" (passed at line {c.node.lineno})" if origin is not None and getattr(origin, "lineno", c.node.lineno) != c.node.lineno else ""
        yield Finding(path, line, col, "FFI004", f"{where} gets {what}{made}: {why}")


def check_source(source: str, path: str, headers: HeaderSet, ignore: frozenset[str] = frozenset()) -> list[Finding]:
    """Check one Python file's ctypes/cffi use against ``headers``.

    Parameters
    ----------
    source : str
        The file's text.
    path : str
        Its path, as findings should name it.
    headers : HeaderSet
        The prototypes (and allocator pairs) from :func:`ffilab.check.header.load_headers`.
    ignore : frozenset of str
        Rule codes not to report.

    Returns
    -------
    list of Finding
        Sorted by line and column, one per problem.

    Raises
    ------
    CheckError
        If the source does not parse, or uses a foreign function no header declares.
    """
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        raise CheckError(path, exc.lineno or 1, (exc.offset or 0) or 1, f"error: not valid Python: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise CheckError(path, 1, 1, "error: not valid Python: nested too deeply for Python's parser") from None
    walker = _Walker(path, headers)
    # The walk recurses once per nested expression: a long generated `a + b + ...` chain needs
    # more than the default 1000 frames (3.11 runs these Python calls without C recursion).
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20000))
    try:
        walker.run(tree)
        found = set(_checks(walker, headers))
        found |= set(find_leaks(tree, path, headers.allocators, _callee_resolver(walker)))
    except RecursionError:
        raise CheckError(path, 1, 1, "error: the file nests expressions too deeply to check") from None
    finally:
        sys.setrecursionlimit(limit)
    noqa = _noqa(source)
    return sorted(f for f in found if f.code not in ignore and not _suppressed(noqa.get(f.line, False), f.code))


_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+\d+(?:[\s,]+[A-Z]+\d+)*))?", re.IGNORECASE)


def _noqa(source: str) -> dict[int, frozenset[str] | None]:
    """``# noqa`` comments by line: the codes they name, or ``None`` for all (flake8's rule)."""
    out: dict[int, frozenset[str] | None] = {}
    for i, line in enumerate(source.splitlines(), start=1):
        m = _NOQA.search(line)
        if m:
            codes = m.group("codes")
            out[i] = frozenset(c.upper() for c in re.split(r"[\s,]+", codes.strip())) if codes else None
    return out


def _suppressed(entry: frozenset[str] | None | bool, code: str) -> bool:
    return entry is None or (isinstance(entry, frozenset) and code in entry)


def _callee_resolver(w: _Walker) -> Callable[[ast.AST], str | None]:
    def name_of(node: ast.AST) -> str | None:
        f = w.func_of_node.get(id(node))
        return f.name if f is not None else None

    return name_of
