"""nbgrader's converters, run in a process of their own (``python -I runner.py ...``).

The grader and the release never import nbgrader's applications in their own
process: they start this file as a script (it imports nothing from
``swin_tutorial``, so no torch either), one process for a whole batch:

- ``generate COURSE STEM...``: ``generate_assignment`` for each assignment, with
  nbgrader's preprocessors minus ``ClearOutput`` (the release clears the
  exercises' outputs itself and keeps the chapter's figures);
- ``autograde COURSE STEM STUDENT --cell-timeout S --kernel NAME --ip PATH``:
  ``autograde`` with the kernel named ``NAME`` on the IPC transport (sockets at
  ``PATH-*``), each cell limited to ``S`` seconds; a kernel that dies fails
  every cell from the one it died in (nbgrader would give up on the notebook);
- ``feedback COURSE STEM...``: ``generate_feedback`` for every student.

Each writes one JSON line ``{"stem": ..., "success": ..., "log": ...}`` per
assignment, to stdout or to the file ``--result FILE`` (where a student's
kernel, whose output shares the process's stdout, cannot write it), and exits
with 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


def _generate_config(course: str):
    from nbgrader.converters import GenerateAssignment
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = course
    keep = [step for step in GenerateAssignment.class_traits()["preprocessors"].default()]
    config.GenerateAssignment.preprocessors = [
        step for step in keep if step.__name__ != "ClearOutput"
    ]
    return config


def _execute_to_the_end():
    """nbgrader's Execute, except that a kernel that dies fails the cells left, one by one."""
    from nbformat import NotebookNode
    from nbgrader.preprocessors import Execute

    class ExecuteToTheEnd(Execute):
        def preprocess_cell(self, cell, resources, index):
            self.reached = index
            return super().preprocess_cell(cell, resources, index)

        def preprocess(self, nb, resources=None, km=None):
            self.reached = 0
            try:
                return super().preprocess(nb, resources, km)
            except Exception as error:  # a dead kernel, or one that never started
                reason = f"{type(error).__name__}: {error}".strip()
                for cell in nb.cells[self.reached :]:
                    if cell.cell_type == "code":
                        cell.outputs.append(
                            NotebookNode(
                                output_type="error",
                                ename="KernelStopped",
                                evalue=reason,
                                traceback=[f"KernelStopped: this cell did not run ({reason})"],
                            )
                        )
                return nb, resources

    return ExecuteToTheEnd


def _autograde_config(course: str, cell_timeout: int, kernel: str, ip: str):
    from nbgrader.converters import Autograde
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = course
    config.Execute.timeout = cell_timeout
    config.Execute.kernel_name = kernel
    config.Execute.startup_timeout = 120
    config.KernelManager.transport = "ipc"
    config.KernelManager.ip = ip
    execute = _execute_to_the_end()
    config.Autograde.autograde_preprocessors = [
        execute if step.__name__ == "Execute" else step
        for step in Autograde.class_traits()["autograde_preprocessors"].default()
    ]
    return config


def _run(
    action: str, config, stems: Sequence[str], student: str | None, result_file: str | None
) -> bool:
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    ok = True
    for stem in stems:
        if action == "generate":
            result = api.generate_assignment(stem, force=True, create=True)
        elif action == "autograde":
            result = api.autograde(stem, student, force=True, create=True)
        else:
            result = api.generate_feedback(stem, force=True)
        log = result.get("log", "") + result.get("error", "")
        line = json.dumps({"stem": stem, "success": bool(result["success"]), "log": log})
        if result_file:
            with open(result_file, "a", encoding="utf-8") as out:
                out.write(line + "\n")
        else:
            print(line)
            sys.stdout.flush()
        ok = ok and bool(result["success"])
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="runner.py")
    actions = parser.add_subparsers(dest="action", required=True)
    for name in ("generate", "feedback"):
        action = actions.add_parser(name)
        action.add_argument("course")
        action.add_argument("stems", nargs="+")
    autograde = actions.add_parser("autograde")
    autograde.add_argument("course")
    autograde.add_argument("stem")
    autograde.add_argument("student")
    autograde.add_argument("--cell-timeout", type=int, required=True)
    autograde.add_argument("--kernel", required=True)
    autograde.add_argument("--ip", required=True)
    autograde.add_argument("--result", help="file for the JSON result (default: stdout)")
    args = parser.parse_args(argv)
    if args.action == "autograde":
        config = _autograde_config(args.course, args.cell_timeout, args.kernel, args.ip)
        ok = _run("autograde", config, [args.stem], args.student, args.result)
    else:
        from traitlets.config import Config

        config = _generate_config(args.course) if args.action == "generate" else Config()
        config.CourseDirectory.root = args.course
        ok = _run(args.action, config, args.stems, None, None)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
