"""A fresh copy of the checkers, for the graded test cells of the chapters.

A test cell calls ``fresh_checkers().check_window_partition(window_partition)``:
the checkers, and the package references they compare with, are loaded anew
from the package's files under a private name, so nothing a student's cell did
to the modules it imported (replacing a reference, a checker or a helper)
reaches the verdict. The copy's modules are taken out of ``sys.modules`` once
loaded: they are reached only through the module returned.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType

_PACKAGE_DIR = Path(__file__).resolve().parents[1]
_copies = itertools.count()


def fresh_checkers() -> ModuleType:
    """A new ``swin_tutorial.coursework.checkers`` module, from a new copy of the package."""
    name = f"swin_tutorial_fresh_{next(_copies)}"
    spec = importlib.util.spec_from_file_location(
        name, _PACKAGE_DIR / "__init__.py", submodule_search_locations=[str(_PACKAGE_DIR)]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package  # relative imports inside the copy resolve to the copy
    try:
        spec.loader.exec_module(package)
        return importlib.import_module(f"{name}.coursework.checkers")
    finally:
        for module in [key for key in sys.modules if key == name or key.startswith(name + ".")]:
            del sys.modules[module]
