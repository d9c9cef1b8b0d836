"""Every public function, class, method and property of the toolkit has a numpydoc docstring (issue 13).

Public: a module-level function or class of ``theory/``, ``simulate/`` or ``compare/`` whose name
has no leading underscore (and is in the module's ``__all__`` when it has one), and the
non-underscore methods and properties of such classes. The rules checked (numpydoc's, reduced
to what an AST can decide):

* a docstring;
* a function or method with parameters (other than ``self``/``cls``) has a ``Parameters``
  section naming each of them (``name : type``; ``*args``/``**kwargs`` as written);
* one that returns a value (a ``return <expr>`` in its own body) has a ``Returns`` or ``Yields``
  section; properties are exempt from both sections.

Run as a script to list the violations of some files: ``python tests/test_docstrings.py FILE...``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("theory", "simulate", "compare")


def _section(doc: str, title: str) -> list[str] | None:
    """Lines of the numpydoc section ``title`` (None if absent)."""
    lines = doc.splitlines()
    for i in range(len(lines) - 1):
        if lines[i].strip() == title and set(lines[i + 1].strip()) == {"-"}:
            out = []
            for line in lines[i + 2 :]:
                if out and line.strip() and set(line.strip()) == {"-"}:
                    out.pop()  # the next section's title
                    break
                out.append(line)
            return out
    return None


def _documented_names(section: list[str]) -> set[str]:
    names = set()
    for line in section:
        head = line.split(" : ")[0].strip() if " : " in line else line.strip()
        for name in head.split(","):
            name = name.strip()
            if name and " " not in name:
                names.add(name)
    return names


def _returns_value(fn: ast.FunctionDef) -> bool:
    stack = list(fn.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Return) and node.value is not None:
            if not (isinstance(node.value, ast.Constant) and node.value.value is None):
                return True
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        stack.extend(ast.iter_child_nodes(node))
    return False


def _params(fn: ast.FunctionDef) -> list[str]:
    a = fn.args
    names = [x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs]]
    if a.vararg:
        names.append("*" + a.vararg.arg)
    if a.kwarg:
        names.append("**" + a.kwarg.arg)
    return [n for n in names if n not in ("self", "cls")]


def _is_property(fn: ast.FunctionDef) -> bool:
    return any(
        (isinstance(d, ast.Name) and d.id in ("property", "cached_property"))
        or (isinstance(d, ast.Attribute) and d.attr in ("setter", "getter", "cached_property"))
        for d in fn.decorator_list
    )


def _check_function(fn: ast.FunctionDef, where: str) -> list[str]:
    doc = ast.get_docstring(fn)
    if not doc:
        return [f"{where}: no docstring"]
    if _is_property(fn):
        return []
    problems = []
    params = _params(fn)
    if params:
        section = _section(doc, "Parameters")
        if section is None:
            problems.append(f"{where}: no Parameters section (parameters {', '.join(params)})")
        else:
            named = _documented_names(section)
            missing = [p for p in params if p not in named and p.lstrip("*") not in named]
            if missing:
                problems.append(f"{where}: Parameters does not name {', '.join(missing)}")
    if _returns_value(fn) and _section(doc, "Returns") is None and _section(doc, "Yields") is None:
        problems.append(f"{where}: returns a value but has no Returns section")
    return problems


def _public_names(tree: ast.Module) -> set[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            try:
                return set(ast.literal_eval(node.value))
            except ValueError:
                return None
    return None


def violations(path: Path) -> list[str]:
    """Numpydoc violations of the public API defined in ``path``.

    Parameters
    ----------
    path : Path
        A Python source file.

    Returns
    -------
    list of str
        One ``file:line name: problem`` per violation.
    """
    rel = path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path
    tree = ast.parse(path.read_text(encoding="utf-8"))
    public = _public_names(tree)
    out = []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) or node.name.startswith("_"):
            continue
        if public is not None and node.name not in public:
            continue
        where = f"{rel}:{node.lineno} {node.name}"
        if isinstance(node, ast.FunctionDef):
            out += _check_function(node, where)
            continue
        if not ast.get_docstring(node):
            out.append(f"{where}: no docstring")
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                out += _check_function(item, f"{rel}:{item.lineno} {node.name}.{item.name}")
    return out


def source_files() -> list[Path]:
    """Every module of the three packages."""
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_public_api_has_numpydoc_docstrings(path):
    problems = violations(path)
    assert not problems, "\n".join(problems)


def test_checker_finds_a_missing_parameter(tmp_path):
    """The checker itself: a public function documenting one of its two parameters is caught."""
    src = tmp_path / "mod.py"
    src.write_text(
        'def f(a, b):\n    """F.\n\n    Parameters\n    ----------\n    a : int\n        A.\n    """\n'
        "    return a\n"
    )
    problems = violations(src)
    assert any("does not name b" in p for p in problems)
    assert any("no Returns section" in p for p in problems)


if __name__ == "__main__":
    files = [Path(a) for a in sys.argv[1:]] or source_files()
    found = [v for f in files for v in violations(f)]
    print("\n".join(found) or "no violations")
    sys.exit(1 if found else 0)
