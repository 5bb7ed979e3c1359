"""The suspicious-code report: student cells that reach for the grader's machinery.

:func:`scan_notebook` reads the code cells a student wrote (not the chapter's
own cells, not the test cells nbgrader restores) and lists every place that
touches the checkers' or the coursework package's internals, ``sys.modules``,
``importlib`` / ``__import__``, ``builtins``, ``os.environ``, signals,
subprocesses, ``ctypes``, frames and tracing, ``inspect``, ``gc``,
``get_ipython`` or a shell escape. Cells are parsed (IPython's magics turned
into the calls they stand for first); a cell that still does not parse is
searched as text. The report is for the instructor to read: a finding is a
reason to look, not a verdict.
"""

from __future__ import annotations

import ast
import pkgutil
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: Modules whose every use is reported.
MODULES = (
    "importlib",
    "builtins",
    "signal",
    "subprocess",
    "multiprocessing",
    "ctypes",
    "inspect",
    "gc",
    "pty",
    "_thread",
)
#: Attributes of ``sys`` and ``os`` that are reported (a prefix ending in ``*``).
ATTRIBUTES = (
    "sys.modules",
    "sys.setprofile",
    "sys.settrace",
    "sys._getframe",
    "sys.getprofile",
    "sys.gettrace",
    "threading.setprofile",
    "threading.settrace",
    "sys.meta_path",
    "sys.path_hooks",
    "sys.path",
    "sys.excepthook",
    "os.environ",
    "os.environb",
    "os.putenv",
    "os.unsetenv",
    "os.system",
    "os.popen",
    "os.fork",
    "os.forkpty",
    "os.kill",
    "os.killpg",
    "os.setsid",
    "os.exec*",
    "os.spawn*",
    "os.posix_spawn*",
)
#: Attribute names that are reported on any object: frames, code and globals.
INTERNALS = frozenset(
    {
        "_getframe",
        "f_back",
        "f_locals",
        "f_globals",
        "f_builtins",
        "__globals__",
        "__builtins__",
        "__code__",
        "__closure__",
        "__subclasses__",
        "__import__",
        "__loader__",
        "__spec__",
    }
)
#: Modules whose attributes a student cell must not replace (a replaced torch
#: function can make a reference agree with a wrong answer).
GUARDED = ("swin_tutorial", "torch", "numpy", "sys", "os", "math", "builtins", "IPython")
#: Builtins that run code given as a string, or import by name.
DYNAMIC = frozenset({"__import__", "eval", "exec", "compile"})
#: IPython magics that are not reported.
SAFE_MAGICS = frozenset(
    {"time", "timeit", "matplotlib", "pinfo", "pinfo2", "who", "whos", "precision", "pprint"}
)
COURSEWORK = "swin_tutorial.coursework"
COURSEWORK_MODULES = frozenset(
    module.name for module in pkgutil.iter_modules([str(Path(__file__).resolve().parent)])
)
TEXT_PATTERNS = [
    (re.compile(rf"\b{re.escape(word)}\b"), word)
    for word in (*MODULES, "__import__", "sys.modules", "os.environ", "os.system", "get_ipython")
    + ("setprofile", "settrace", "_getframe", "coursework.checkers", "coursework.harness")
]


@dataclass(frozen=True)
class Finding:
    """One place to read: the cell (1-based, as the notebook shows them), the line, what."""

    cell: int
    line: int
    what: str


def _matches_attribute(dotted: str) -> str | None:
    for pattern in ATTRIBUTES:
        if pattern.endswith("*"):
            if dotted.startswith(pattern[:-1]):
                return pattern[:-1] + "..."
        elif dotted == pattern or dotted.startswith(pattern + "."):
            return pattern
    return None


def _coursework_internal(dotted: str) -> bool:
    """Whether ``dotted`` names a coursework submodule or any private name of the package."""
    if not dotted.startswith("swin_tutorial"):
        return False
    parts = dotted.split(".")
    if any(part.startswith("_") for part in parts[1:]):
        return True
    return dotted.startswith(COURSEWORK + ".") and parts[2] in COURSEWORK_MODULES


def describe_name(dotted: str) -> str | None:
    """What is suspicious about using the module attribute ``dotted`` (``None``: nothing)."""
    root = dotted.split(".")[0]
    if root in MODULES:
        return f"uses {root}"
    attribute = _matches_attribute(dotted)
    if attribute:
        return f"uses {attribute}"
    if _coursework_internal(dotted):
        return f"uses {dotted}"
    return None


class _Scanner(ast.NodeVisitor):
    """Collect findings in one cell; ``aliases`` maps local names to the modules they stand for."""

    def __init__(self, aliases: dict[str, str], cell: int) -> None:
        self.aliases = aliases
        self.cell = cell
        self.findings: list[Finding] = []

    def report(self, node: ast.AST, what: str) -> None:
        self.findings.append(Finding(self.cell, getattr(node, "lineno", 1), what))

    def dotted(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            what = describe_name(alias.name)
            if what:
                self.report(node, f"imports {alias.name}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            return
        for alias in node.names:
            full = node.module if alias.name == "*" else f"{node.module}.{alias.name}"
            if describe_name(node.module) or describe_name(full):
                self.report(node, f"imports {full}")

    def _ipython_call(self, node: ast.Call) -> bool:
        """Report ``get_ipython().x(...)``: shell escapes and magics; True when it was one."""
        func = node.func
        if not (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "get_ipython"
        ):
            return False
        first = node.args[0] if node.args else None
        name = first.value if isinstance(first, ast.Constant) else "?"
        if func.attr in ("system", "getoutput"):
            self.report(node, "runs a shell command (!)")
        elif func.attr in ("run_line_magic", "run_cell_magic"):
            if name not in SAFE_MAGICS:
                prefix = "%%" if func.attr == "run_cell_magic" else "%"
                self.report(node, f"runs the magic {prefix}{name}")
        else:
            self.report(node, f"uses get_ipython().{func.attr}")
        for arg in [*node.args, *node.keywords]:
            self.visit(arg)
        return True

    def visit_Call(self, node: ast.Call) -> None:
        if self._ipython_call(node):
            return
        if isinstance(node.func, ast.Name) and node.func.id in DYNAMIC:
            self.report(node, f"calls {node.func.id}")
        if isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr") and node.args:
            target = self.dotted(node.args[0])
            if target and target.split(".")[0] in GUARDED:
                self.report(node, f"changes {target} ({node.func.id})")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "get_ipython":
            self.report(node, "uses get_ipython")
        elif node.id == "__builtins__":
            self.report(node, "uses __builtins__")
        elif node.id in self.aliases:
            what = describe_name(self.aliases[node.id])
            if what and not isinstance(node.ctx, ast.Store):
                self.report(node, what)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = self.dotted(node)
        if isinstance(node.ctx, ast.Store | ast.Del) and dotted and dotted.split(".")[0] in GUARDED:
            self.report(node, f"changes {dotted}")
            return
        what = describe_name(dotted) if dotted else None
        if what:  # reported once, at the outermost attribute of the chain
            self.report(node, what)
            return
        if node.attr in INTERNALS:
            self.report(node, f"uses .{node.attr}")
        self.generic_visit(node)


def imported_names(tree: ast.AST) -> dict[str, str]:
    """Local name -> the module or module attribute it was imported as."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    aliases[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def python_source(cell_source: str) -> str:
    """The cell as IPython runs it: magics and ``!`` escapes turned into ``get_ipython()`` calls."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(cell_source)
    except Exception:  # a cell IPython cannot read either: searched as text
        return cell_source


def _parse(source: str) -> ast.AST | None:
    try:
        return ast.parse(python_source(source))
    except (SyntaxError, ValueError):
        return None


def scan_text(source: str, cell: int) -> list[Finding]:
    """The text search for a cell that does not parse: words and shell lines, line by line."""
    findings = []
    for number, line in enumerate(source.splitlines(), start=1):
        if line.lstrip().startswith(("!", "%")):
            findings.append(Finding(cell, number, "runs a shell command or magic (text)"))
        for pattern, word in TEXT_PATTERNS:
            if pattern.search(line):
                findings.append(Finding(cell, number, f"mentions {word} (text)"))
    return findings


def _normalized(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def scan_notebook(
    notebook: dict, trusted: Iterable[str] = (), restored: Iterable[str] = ()
) -> list[Finding]:
    """Findings in the student cells of ``notebook`` (a notebook's JSON as a dict).

    A code cell is the student's unless its source equals one of ``trusted``
    (the chapter's own cells, as in the source and the release) or its grade
    id is in ``restored`` (test cells nbgrader puts back before running).
    Imports in every cell count for the names the student cells use.
    """
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise TypeError(
            f"notebook must be a notebook dict with a 'cells' list, got {notebook!r:.80}"
        )
    trusted = {_normalized(text) for text in trusted}
    restored = set(restored)
    code = [
        (number, _source(cell), cell)
        for number, cell in enumerate(cells, start=1)
        if isinstance(cell, dict) and cell.get("cell_type") == "code"
    ]
    trees = {number: _parse(source) for number, source, _ in code}
    aliases: dict[str, str] = {}
    for number, _, _ in code:
        if trees[number] is not None:
            aliases.update(imported_names(trees[number]))
    findings: list[Finding] = []
    for number, source, cell in code:
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if _normalized(source) in trusted or (
            isinstance(meta, dict) and meta.get("grade_id") in restored
        ):
            continue
        tree = trees[number]
        if tree is None:
            findings += scan_text(source, number)
            continue
        scanner = _Scanner(aliases, number)
        scanner.visit(tree)
        findings += scanner.findings
    return list(dict.fromkeys(findings))
