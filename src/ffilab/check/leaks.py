"""Allocation analysis: C memory from an allocating function must reach its free function.

For every call of an allocating function (see :class:`ffilab.check.header.AllocSpec`), the
statements after it -- then the statements after each enclosing block, up to the function --
are walked path by path (``if``/``else`` both ways, a loop body maybe never, ``try``/``finally``
always) following the pointer's name and its aliases (``q = p``, ``q = ctypes.cast(p, T)``,
``(T * n).from_address(p)``).  A path that ends, returns or raises with the memory unreleased is
a leak (FFI005); a release reached only if nothing raises in between, outside ``finally``, is
one an exception can skip (FFI006).  Ownership handed on -- to ``weakref.finalize(obj, FREE,
p)``, an attribute, a container, the caller (``return p``) or a function the checker cannot see --
counts as released: the checker stays silent where it cannot know.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ffilab.check.header import AllocSpec
from ffilab.check.rules import Finding

__all__ = ["find_leaks"]

NameOf = Callable[[ast.AST], "str | None"]

# Calls that only look at a pointer (or build a view of it): neither release nor hand it on.
_USES = {
    "cast", "as_array", "print", "len", "list", "tuple", "bytes", "string_at", "wstring_at", "memmove",
    "memset", "addressof", "byref", "pointer", "sizeof", "frombuffer", "from_address", "from_buffer",
    "repr", "str", "format", "bool", "int", "float", "isinstance", "id", "hex", "contents", "value",
}
# Calls whose result reads or views the memory without owning it.
_VIEWS = {"as_array", "frombuffer", "from_address", "from_buffer", "list", "tuple", "bytes", "string_at",
          "wstring_at", "len", "str", "repr", "float", "int", "sum", "sorted", "array", "asarray", "copy"}
# Calls that build ctypes objects or views and do not raise on valid input.
_SAFE = {"POINTER", "pointer", "cast", "byref", "addressof", "sizeof", "from_address", "from_buffer",
         "len", "isinstance", "bool", "finalize", "c_void_p"}
# Calls whose result is the same memory as their first argument.
_ALIASING = {"cast", "from_address", "as_array", "frombuffer", "c_void_p"}


def _callee_name(call: ast.Call) -> str:
    f = call.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return ""


def _mentions(node: ast.AST | None, names: set[str]) -> bool:
    return node is not None and any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _direct(node: ast.AST | None, names: set[str]) -> bool:
    """``node`` is one of ``names``, or a display or call that holds one directly."""
    if node is None:
        return False
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_direct(e, names) for e in node.elts)
    if isinstance(node, ast.Dict):
        return any(_direct(v, names) for v in node.values)
    if isinstance(node, ast.Call):
        if _callee_name(node) in _VIEWS:
            return False  # a view or a copy of the memory does not own it
        return any(_direct(a, names) for a in node.args) or any(_direct(k.value, names) for k in node.keywords)
    if isinstance(node, ast.Starred):
        return _direct(node.value, names)
    return False


def _reaches(value: ast.AST | None, target: ast.AST | None = None, names: set[str] | None = None) -> bool:
    """``value`` is ``target`` (or a name in ``names``) seen through ``.value``, ``cast(...)`` and views."""
    while value is not None:
        if target is not None and value is target:
            return True
        if names is not None and isinstance(value, ast.Name):
            return value.id in names
        if isinstance(value, ast.Attribute) and value.attr in ("value", "contents"):
            value = value.value
        elif isinstance(value, ast.Call) and _callee_name(value) in _ALIASING and value.args:
            value = value.args[0]
        else:
            return False
    return False


def _calls(node: ast.AST) -> Iterator[ast.Call]:
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            yield n


def _may_raise(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.For | ast.AsyncFor | ast.While | ast.With | ast.AsyncWith | ast.Assert | ast.Import | ast.ImportFrom):
        return True
    if isinstance(stmt, ast.If | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Pass | ast.Break | ast.Continue | ast.Global | ast.Nonlocal):
        return False
    for n in ast.walk(stmt):
        if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Load):
            return True
        if isinstance(n, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp | ast.Await | ast.Yield | ast.YieldFrom):
            return True
        if isinstance(n, ast.Call):
            name = _callee_name(n)
            if isinstance(n.func, ast.BinOp) or not (name in _SAFE or name.startswith("c_")):
                return True
    return False


@dataclass
class _Flow:
    live: bool = True  # some path reaches the end with the memory unreleased
    partial: bool = False  # some other path released it
    leak: tuple[ast.AST, str] | None = None


@dataclass
class _Track:
    names: set[str]
    free: str
    alloc_node: ast.Call
    func: str
    risky: ast.stmt | None = None
    skipped: list[tuple[ast.AST, ast.stmt]] = field(default_factory=list)


class _Analysis:
    def __init__(self, name_of: NameOf) -> None:
        self.name_of = name_of

    def releases(self, node: ast.AST, t: _Track) -> ast.Call | None:
        for call in _calls(node):
            if self.name_of(call.func) == t.free and any(_mentions(a, t.names) for a in call.args):
                return call
            # Handing FREE and the pointer to a finalizer or atexit hook releases it later.
            if any(self.name_of(a) == t.free for a in call.args) and any(_direct(a, t.names) for a in call.args):
                return call
        return None

    def escapes(self, stmt: ast.stmt, t: _Track) -> bool:
        if isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if any(isinstance(x, ast.Attribute | ast.Subscript) for x in targets) and _direct(stmt.value, t.names):
                return True
        for call in _calls(stmt):
            if self.name_of(call.func) is not None or _callee_name(call) in _USES:
                continue
            if any(_direct(a, t.names) for a in call.args) or any(_direct(k.value, t.names) for k in call.keywords):
                return True  # a function the checker cannot see now owns it
        return any(isinstance(n, ast.Yield | ast.YieldFrom) and _mentions(n, t.names) for n in ast.walk(stmt))

    def guard(self, test: ast.expr, t: _Track) -> str | None:
        """``"null"`` if ``test`` is true only for a NULL pointer, ``"nonnull"`` for the opposite."""
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and isinstance(test.operand, ast.Name) and test.operand.id in t.names:
            return "null"
        if isinstance(test, ast.Name) and test.id in t.names:
            return "nonnull"
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.left, ast.Name) and test.left.id in t.names:
            right = test.comparators[0]
            if isinstance(right, ast.Constant) and right.value in (None, 0):
                if isinstance(test.ops[0], ast.Is | ast.Eq):
                    return "null"
                if isinstance(test.ops[0], ast.IsNot | ast.NotEq):
                    return "nonnull"
        return None

    def walk(self, stmts: list[ast.stmt], t: _Track) -> _Flow:
        partial = False
        for s in stmts:
            f = self.step(s, t)
            partial = partial or f.partial
            if f.leak is not None or not f.live:
                return _Flow(f.live, partial, f.leak)
        return _Flow(True, partial)

    def step(self, s: ast.stmt, t: _Track) -> _Flow:
        if isinstance(s, ast.Try) or (hasattr(ast, "TryStar") and isinstance(s, ast.TryStar)):
            if any(self.releases(x, t) for x in s.finalbody):
                if t.risky is not None:
                    t.skipped.append((self.releases(ast.Module(body=s.finalbody, type_ignores=[]), t) or s, t.risky))
                return _Flow(live=False)
            body = self.walk(s.body, t)
            if body.leak is not None:
                return body
            flows = [body]
            for h in s.handlers:
                flows.append(self.walk(h.body, t))
            if body.live:
                flows.append(self.walk(s.orelse, t))
            for f in flows:
                if f.leak is not None:
                    return f
            fin = self.walk(s.finalbody, t)
            if fin.leak is not None:
                return fin
            live = any(f.live for f in flows)
            return _Flow(live, any(f.partial for f in flows) or (live and not all(f.live for f in flows)))
        if isinstance(s, ast.If):
            g = self.guard(s.test, t)
            if g == "null":
                return self.walk(s.orelse, t)  # the body runs only when nothing was allocated
            if g == "nonnull":
                return self.walk(s.body, t)
            a, b = self.walk(s.body, t), self.walk(s.orelse, t)
            leak = a.leak or b.leak
            return _Flow(a.live or b.live, a.partial or b.partial or (a.live != b.live), leak)
        if isinstance(s, ast.For | ast.AsyncFor | ast.While):
            t.risky = t.risky or s
            body = self.walk(s.body, t)
            if body.leak is not None:
                return body
            rest = self.walk(s.orelse, t)
            return _Flow(True, body.partial or not body.live or rest.partial, rest.leak)
        if isinstance(s, ast.With | ast.AsyncWith):
            t.risky = t.risky or s
            return self.walk(s.body, t)
        if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return _Flow()
        if isinstance(s, ast.Return):
            if _direct(s.value, t.names) or (s.value is not None and self.releases(s.value, t)):
                return _Flow(live=False)
            return _Flow(leak=(s, f"the return at line {s.lineno} leaves without releasing it"))
        if isinstance(s, ast.Raise):
            return _Flow(leak=(s, f"the raise at line {s.lineno} leaves without releasing it"))
        release = self.releases(s, t)
        if release is not None:
            if t.risky is not None:
                t.skipped.append((release, t.risky))
            return _Flow(live=False)
        if self.escapes(s, t):
            return _Flow(live=False)
        if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name):
            target = s.targets[0].id
            if _reaches(s.value, names=t.names):
                t.names.add(target)
            elif target in t.names:
                t.names.discard(target)
                if not t.names:
                    return _Flow(leak=(s, f"line {s.lineno} overwrites the only name that held it"))
        if _may_raise(s):
            t.risky = t.risky or s
        return _Flow()


Frame = tuple[list[ast.stmt], int, ast.AST, str]  # block, index in it, its owner, which block


def _blocks(s: ast.stmt) -> Iterator[tuple[str, list[ast.stmt]]]:
    for name in ("body", "orelse", "finalbody"):
        block = getattr(s, name, None)
        if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
            yield name, block
    for h in getattr(s, "handlers", []) or []:
        yield "handler", h.body
    for c in getattr(s, "cases", []) or []:
        yield "case", c.body


def _statements(block: list[ast.stmt], owner: ast.AST, kind: str, chain: list[Frame]) -> Iterator[tuple[ast.stmt, list[Frame]]]:
    """Every statement of one function (not of functions nested in it) with its enclosing frames."""
    for i, s in enumerate(block):
        path = [*chain, (block, i, owner, kind)]
        yield s, path
        if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for k, inner in _blocks(s):
            yield from _statements(inner, s, k, path)


def _roots(tree: ast.Module) -> Iterator[tuple[ast.AST, list[ast.stmt]]]:
    yield tree, tree.body
    for n in ast.walk(tree):
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef):
            yield n, n.body


def _own_calls(stmt: ast.stmt) -> Iterator[ast.Call]:
    # The calls of the statement itself, not of the blocks or functions nested in it.
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return
    parts: list[ast.AST] = []
    for name, value in ast.iter_fields(stmt):
        if name in ("body", "orelse", "finalbody", "handlers", "cases"):
            continue
        if isinstance(value, ast.AST):
            parts.append(value)
        elif isinstance(value, list):
            parts += [v for v in value if isinstance(v, ast.AST)]
    for p in parts:
        yield from _calls(p)


def _bound_name(stmt: ast.stmt, call: ast.Call, spec: AllocSpec) -> str | None:
    if spec.out_index is not None:
        if spec.out_index >= len(call.args):
            return None
        arg = call.args[spec.out_index]
        if isinstance(arg, ast.Call) and _callee_name(arg) in ("byref", "pointer") and arg.args and isinstance(arg.args[0], ast.Name):
            return arg.args[0].id
        return arg.id if isinstance(arg, ast.Name) else None
    if isinstance(stmt, ast.Assign | ast.AnnAssign):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        if _reaches(stmt.value, call) and len(targets) == 1 and isinstance(targets[0], ast.Name):
            return targets[0].id
    return None


class _Reporter:
    def __init__(self, path: str, name_of: NameOf) -> None:
        self.path = path
        self.analysis = _Analysis(name_of)
        self.found: list[Finding] = []

    def leak(self, t: _Track, why: str) -> None:
        n = t.alloc_node
        self.found.append(Finding(self.path, n.lineno, n.col_offset + 1, "FFI005",
                                  f"memory from {t.func} (line {n.lineno}) is never passed to {t.free}: {why}"))

    def follow(self, t: _Track, path: list[Frame]) -> None:
        a = self.analysis
        block, i, _, _ = path[-1]
        flow = a.walk(block[i + 1:], t)
        partial = flow.partial
        for level in range(len(path) - 1, -1, -1):
            if flow.leak is not None:
                self.leak(t, flow.leak[1])
                return
            if not flow.live:
                break
            _, _, owner, kind = path[level]
            if kind == "root":
                where = "the module" if isinstance(owner, ast.Module) else f"{owner.name}()"  # type: ignore[attr-defined]
                self.leak(t, f"{'some paths reach' if partial else 'it reaches'} the end of {where} without releasing it")
                return
            if isinstance(owner, ast.Try) or (hasattr(ast, "TryStar") and isinstance(owner, ast.TryStar)):
                if kind != "finalbody" and any(a.releases(x, t) for x in owner.finalbody):  # type: ignore[attr-defined]
                    break  # released by the enclosing finally: on every path, exceptions included
                rest: list[ast.stmt] = (owner.orelse if kind == "body" else []) + owner.finalbody  # type: ignore[attr-defined]
                flow = a.walk(rest, t)
                partial = partial or flow.partial
                if flow.leak is not None or not flow.live:
                    continue
            if isinstance(owner, ast.For | ast.AsyncFor | ast.While) and kind == "body":
                self.leak(t, f"it is allocated in every pass of the loop at line {owner.lineno} and not released in the same pass")
                return
            parent_block, parent_i, _, _ = path[level - 1]
            flow = a.walk(parent_block[parent_i + 1:], t)
            partial = partial or flow.partial
        for release, risky in t.skipped:
            line = getattr(release, "lineno", 1)
            self.found.append(Finding(self.path, line, getattr(release, "col_offset", 0) + 1, "FFI006",
                                      f"{t.free} releases the memory from {t.func} (line {t.alloc_node.lineno}) only if line "
                                      f"{risky.lineno} does not raise: release it in a finally block"))


def find_leaks(tree: ast.Module, path: str, allocators: dict[str, AllocSpec], name_of: NameOf) -> list[Finding]:
    """Leaks (FFI005) and exception-skippable releases (FFI006) of C-allocated memory.

    Parameters
    ----------
    tree : ast.Module
        The parsed file.
    path : str
        The file's name for the findings.
    allocators : dict of str to AllocSpec
        Allocating functions by C name.
    name_of : callable
        Gives the C function name an expression node refers to (``None`` if it is none).
    """
    if not allocators:
        return []
    rep = _Reporter(path, name_of)
    for root, body in _roots(tree):
        for stmt, frames in _statements(body, root, "root", []):
            for call in _own_calls(stmt):
                func = name_of(call.func)
                spec = allocators.get(func or "")
                if func is None or spec is None:
                    continue
                t = _Track(set(), spec.free, call, func)
                if isinstance(stmt, ast.Return) and spec.out_index is None and _holds(stmt.value, call):
                    continue  # handed to the caller
                name = _bound_name(stmt, call, spec)
                if name is None:
                    if spec.out_index is None and _released_inline(rep.analysis, stmt, call, spec.free):
                        continue
                    rep.leak(t, "the result is not bound to a name, so nothing can release it")
                    continue
                t.names.add(name)
                rep.follow(t, frames)
    return rep.found


def _holds(node: ast.AST | None, call: ast.Call) -> bool:
    if node is call:
        return True
    if isinstance(node, ast.Tuple | ast.List):
        return any(_holds(e, call) for e in node.elts)
    if isinstance(node, ast.Call):
        return any(a is call for a in node.args)
    return False


def _released_inline(a: _Analysis, stmt: ast.stmt, call: ast.Call, free: str) -> bool:
    # FREE(ALLOC(...)) or FREE(cast(ALLOC(...), ...)): allocated and released in one expression.
    for c in _calls(stmt):
        if a.name_of(c.func) == free and any(call in ast.walk(arg) for arg in c.args):
            return True
    return False
