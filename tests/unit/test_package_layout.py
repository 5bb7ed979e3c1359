"""The package's house rules, read from its source: no import cycle, no module above
600 lines, no private name imported across modules, one spelling in identifiers."""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "swin_tutorial"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 600


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` for every ``from ... import`` and ``import`` in ``path``, resolved."""
    here = module_name(path).split(".")
    base = here if is_package(path) else here[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                target = base[: len(base) - node.level + 1]
                module = ".".join(target + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
    return found


def import_graph() -> dict[str, set[str]]:
    """Package module -> the package modules it imports (a name that is a submodule counts)."""
    known = {module_name(path) for path in MODULES}
    graph = {}
    for path in MODULES:
        edges = set()
        for module, names in imports(path):
            if not module.startswith("swin_tutorial"):
                continue
            edges |= {f"{module}.{name}" for name in names if f"{module}.{name}" in known}
            if module in known and not all(f"{module}.{name}" in known for name in names):
                edges.add(module)
        graph[module_name(path)] = edges - {module_name(path)}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes, or ``None``; a package's ``__init__``
    importing its own submodules is not a cycle unless a submodule imports it back."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_reader_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_cycle_between_the_package_modules():
    graph = import_graph()
    # A package's __init__ re-exports its submodules; a submodule that imports its own
    # package's __init__ back is a cycle, any other edge into __init__ is not.
    assert "swin_tutorial.windows" in graph["swin_tutorial"]
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, (
        f"{path.name} has {lines} lines: a module past {MAX_LINES} is two ideas"
    )


def test_no_private_name_is_imported_across_modules():
    offences = [
        f"{module_name(path)} imports {name} from {module}"
        for path in MODULES
        for module, names in imports(path)
        if module.startswith("swin_tutorial")
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert offences == []


def test_identifiers_spell_neighborhood():
    pattern = re.compile(r"neighbourhood", re.IGNORECASE)
    offences = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            name = (
                getattr(node, "name", None)
                or getattr(node, "id", None)
                or getattr(node, "attr", None)
            )
            if isinstance(name, str) and pattern.search(name):
                offences.append(f"{path.name}:{node.lineno} {name}")
            if isinstance(node, ast.arg) and pattern.search(node.arg):
                offences.append(f"{path.name}:{node.lineno} {node.arg}")
    assert offences == []
