"""Command line: ``python -m swin_tutorial.coursework grade SUBMISSIONS_DIR``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .grading import format_grades, grade_folder


def main(argv: Sequence[str] | None = None) -> int:
    """``grade SUBMISSIONS_DIR [--timeout S] [--no-progress]``: print one row per notebook."""
    parser = argparse.ArgumentParser(
        prog="python -m swin_tutorial.coursework",
        description="Run the exercise checkers over a folder of submitted notebooks.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="execute every notebook in a folder and score it")
    grade.add_argument("folder", help="folder holding the submitted .ipynb files")
    grade.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    grade.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    try:
        grades = grade_folder(args.folder, args.timeout, progress=not args.no_progress)
    except ValueError as error:
        parser.error(str(error))
    if not grades:
        print(f"no notebooks (*.ipynb) in {args.folder}")
        return 0
    print(format_grades(grades))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
