"""The package's layout, checked: rooms whose imports point one way, no import cycles, small
modules, no borrowed private names, and a lean ``import privmask``.

Rooms, lowest first (a module may import its own room and the rooms below it)::

    errors, _outputs, _extras, _native  ->  masks  ->  engine  ->  dynamic, video
      ->  redaction, editor  ->  cli, tools (one floor: ``privmask bench`` is a tool)
      ->  the package root

Imports under ``if TYPE_CHECKING:`` are annotations only and are not counted.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import privmask as pm

PACKAGE = Path(pm.__file__).parent
MAX_LINES = 600

RANK = {
    "errors": 0,
    "_outputs": 0,
    "_extras": 0,
    "_native": 0,
    "masks": 1,
    "engine": 2,
    "dynamic": 3,
    "video": 3,
    "redaction": 4,
    "editor": 4,
    "cli": 5,
    "tools": 5,
    "__init__": 6,
    "__main__": 6,
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> list[tuple[str, list[str], bool]]:
    """(module imported, names taken from it, at top level?) for every privmask import."""
    found: list[tuple[str, list[str], bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            inner = top and not isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
            )
            if isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                if child.module == "privmask" or child.module.startswith("privmask."):
                    names = [a.name for a in child.names]
                    # ``from privmask.x import y`` where y is a module imports the module.
                    for name in names:
                        sub = f"{child.module}.{name}"
                        if sub in MODULES or sub == "privmask._native":
                            found.append((sub, [], inner))
                    plain = [
                        n for n in names if f"{child.module}.{n}" not in MODULES and n != "_native"
                    ]
                    if plain or not names:
                        found.append((child.module, plain, inner))
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.startswith("privmask"):
                        found.append((alias.name, [], inner))
            visit(child, inner)

    visit(ast.parse(path.read_text()), True)
    return found


def test_no_module_is_longer_than_the_limit() -> None:
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_imports_point_down_the_rooms() -> None:
    wrong = []
    for name, path in MODULES.items():
        src_room = _room(name)
        if name.endswith(".__main__"):
            continue  # ``python -m`` entry points may start the command line
        for target, _, _ in _imports(path):
            dst_room = _room(target)
            if dst_room == src_room or target == "privmask":
                continue
            if {src_room, dst_room} == {"cli", "tools"}:
                continue  # the top floor: privmask bench is a tool run by its command
            if RANK[dst_room] >= RANK[src_room]:
                wrong.append(f"{name} -> {target}")
    assert not wrong, "imports that point up or sideways: " + ", ".join(wrong)


def test_no_module_borrows_another_modules_private_names() -> None:
    borrowed = [
        f"{name}: {target}.{n}"
        for name, path in MODULES.items()
        for target, names, _ in _imports(path)
        for n in names
        if n.startswith("_") and not n.startswith("__")
    ]
    assert not borrowed, f"private names imported across modules: {borrowed}"


def test_no_import_cycles_at_top_level() -> None:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for target, _, top in _imports(path):
            if top and target in graph and target != name:
                graph[name].add(target)
    # A package's __init__ runs before its submodules, so parent -> child edges are real.
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def walk(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, [*stack, nxt])
        state[node] = 2

    for node in graph:
        if node not in state:
            walk(node, [node])
    assert not cycles, f"import cycles: {cycles}"


def test_importing_privmask_loads_neither_pydantic_nor_pyav() -> None:
    code = (
        "import sys, privmask; "
        "print(sorted(m for m in ('pydantic', 'av', 'PIL', 'cv2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_error_class_lives_in_errors() -> None:
    errors = {
        name
        for name in dir(pm)
        if isinstance(getattr(pm, name), type) and issubclass(getattr(pm, name), Exception)
    }
    homes = {name: getattr(pm, name).__module__ for name in errors}
    assert {m for m in homes.values()} == {"privmask.errors"}, homes


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_runtime_settings_raise_a_settings_error(bad: object) -> None:
    with pytest.raises(pm.SettingsError, match="thread count"):
        pm.set_threads(bad)  # type: ignore[arg-type]
    assert not issubclass(pm.SettingsError, pm.MaskConfigError)
