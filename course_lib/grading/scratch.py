""""From scratch" checks decided by the judge from the student's source code.

``course_lib.checks.check_from_scratch`` reads byte code in the student's own kernel (good
enough for immediate feedback). At grading time the judge never sees the student's function
objects, only handles to them, so it decides the same question from the submission's cells:

- the name's last top-level binding in the student's cells before the test (a ``def``, a
  ``class``, ``name = other_name`` or ``name = lambda ...``, or an import);
- in that definition, and in every helper ``def``/``class`` of the notebook it uses by name,
  no attribute or name in ``banned_attributes`` (``F.one_hot``, ``pad_sequence``), no import
  of, and no name bound by an import from, ``banned_modules`` (``course_lib`` by default;
  ``course_lib.checks`` is allowed), and no base class from them.

The messages are those of ``check_from_scratch``.
"""

from __future__ import annotations

import ast
import functools

BANNED = ("{name}: uses `{what}`, a ready-made implementation; the point of this exercise is "
          "to write it yourself with basic tensor operations")
EXEMPT = "course_lib.checks"


@functools.lru_cache(maxsize=512)
def parse_cell(source: str) -> ast.Module | None:
    """A code cell as a syntax tree (IPython magics turned into calls); None if it does not parse.

    A cell that is plain Python, nearly every one, is parsed as it is, with the line numbers it
    has; only one Python rejects (a magic, a shell escape, ``x?``, an indented paste) goes
    through IPython's input transformer first, which tokenizes the whole cell (about 0.5 ms of
    CPU; the judge parses some 30 cells per submission).

    The same source gives the same tree object (the judge reads an instructor cell's tree up to
    three times): nothing may change a tree it gets.
    """
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        pass
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return None


def _bindings(trees: list[ast.Module]) -> dict[str, ast.AST]:
    """Each top-level name's last binding: the def/class node, an ``ast.alias`` with its
    module (as ``(module, alias)``), or the value of a simple assignment."""
    bound: dict[str, ast.AST] = {}
    for tree in trees:
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound[node.name] = node
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    name = alias.asname or alias.name.split(".")[0]
                    bound[name] = ("import", alias.name if alias.asname else name)
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    bound[alias.asname or alias.name] = ("import", f"{node.module or ''}.{alias.name}")
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        bound[target.id] = node.value
    return bound


def top_level_names(tree: ast.Module) -> set[str]:
    """Every name a cell binds at its top level (assignments, defs, classes, imports, loops)."""
    names: set[str] = set()
    for node in tree.body:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and not isinstance(sub.ctx, ast.Load):
                names.add(sub.id)
            elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in sub.names)
            if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(sub.name)
                break
    return names


def _in(module: str, banned_modules) -> bool:
    if module == EXEMPT or module.startswith(EXEMPT + "."):
        return False
    return any(module == m or module.startswith(m + ".") for m in banned_modules)


def check(name: str, label: str, student: list[ast.Module], instructor: list[ast.Module],
          banned_modules=("course_lib",), banned_attributes=()) -> None:
    """Raise ``AssertionError`` (the student's message) if ``name`` is not written from scratch.

    ``student``: the trees of the student's cells before the test, in order; ``instructor``:
    the trees of the instructor's cells before it (their imports count as bindings too).
    """
    bound = {**_bindings(instructor), **_bindings(student)}
    own = _bindings(student)
    target = own.get(name)
    for _ in range(10):  # name = other_name: follow it
        if isinstance(target, ast.Name) and target.id in own:
            target = own[target.id]
        else:
            break
    if isinstance(target, tuple):
        module = target[1]
        if _in(module, banned_modules) or module.rsplit(".", 1)[-1] in banned_attributes:
            raise AssertionError(BANNED.format(name=label, what=module))
        raise AssertionError(f"{label}: expected a function defined in the notebook, got `{module}`")
    if not isinstance(target, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
        raise AssertionError(f"{label}: expected a function defined in the notebook (a `def`), "
                             "not found in your cells")
    todo, seen = [target], set()
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                _check_base(base, label, bound, banned_modules, banned_attributes)
        local = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
        local |= {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id in local:
                continue  # a local variable, not the library's function of that name
            what = _banned_use(sub, bound, banned_modules, banned_attributes)
            if what:
                raise AssertionError(BANNED.format(name=label, what=what))
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id in own:
                helper = own[sub.id]
                if isinstance(helper, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                    todo.append(helper)


def _root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _check_base(base: ast.AST, label: str, bound: dict, banned_modules, banned_attributes) -> None:
    root = _root(base)
    binding = bound.get(root) if root else None
    dotted = ast.unparse(base)
    module = ""
    if isinstance(binding, tuple):
        module = binding[1] + dotted[len(root):]
    if (module and _in(module, banned_modules)) or dotted.rsplit(".", 1)[-1] in banned_attributes:
        raise AssertionError(f"{label}: builds on `{module or dotted}`, a ready-made "
                             "implementation; write the class yourself (subclass torch.nn.Module)")


def _banned_use(node: ast.AST, bound: dict, banned_modules, banned_attributes) -> str | None:
    if isinstance(node, ast.Attribute) and node.attr in banned_attributes:
        return node.attr
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        if node.id in banned_attributes:
            return node.id
        binding = bound.get(node.id)
        if isinstance(binding, tuple) and _in(binding[1], banned_modules):
            return node.id
    if isinstance(node, ast.Import):
        for alias in node.names:
            if _in(alias.name, banned_modules) or alias.name.rsplit(".", 1)[-1] in banned_attributes:
                return alias.name
    if isinstance(node, ast.ImportFrom):
        module = node.module or ""
        if _in(module, banned_modules):
            return module
        for alias in node.names:
            if alias.name in banned_attributes or _in(f"{module}.{alias.name}", banned_modules):
                return f"{module}.{alias.name}"
    return None
