"""Command line: ``python -m swin_tutorial.coursework release | grade | feedback``.

- ``release OUT_DIR [--chapters 04 05] [--notebooks DIR] [--course DIR]``: the
  student notebooks, ``OUT_DIR/<stem>.ipynb`` (nbgrader's generate_assignment).
- ``grade SUBMISSIONS_DIR --out grades.csv [--course DIR] [--chapters ...]
  [--cell-timeout S] [--timeout S] [--jobs N] [--sandbox auto|bwrap|none]``:
  autograde ``SUBMISSIONS_DIR/<student>/<stem>.ipynb``, one CSV row per
  student and graded cell, a summary table and the findings printed.
- ``feedback [--course DIR] [--out DIR]``: one HTML page per student and notebook.

The exit status is 2 for the instructor's mistakes (a missing folder, an
unknown chapter, an unwritable file), 0 otherwise, whatever the submissions hold.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .course import NOTEBOOKS_DIR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m swin_tutorial.coursework",
        description="Release the chapters to students, grade their notebooks, give feedback.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    release = commands.add_parser("release", help="write the student notebooks")
    release.add_argument("out_dir", help="folder for the released notebooks")
    release.add_argument("--chapters", nargs="+", help="chapter ids (04 05 ...); default: all")
    release.add_argument("--notebooks", default=str(NOTEBOOKS_DIR), help="folder of chapters")
    release.add_argument("--course", help="keep the nbgrader course here (default: temporary)")

    grade = commands.add_parser("grade", help="autograde a folder of student folders")
    grade.add_argument("submissions", help="SUBMISSIONS_DIR/<student>/<stem>.ipynb")
    grade.add_argument("--out", required=True, help="CSV file of the grades")
    grade.add_argument("--course", default="course", help="the nbgrader course (default: course)")
    grade.add_argument("--chapters", nargs="+", help="chapter ids to grade; default: all")
    grade.add_argument("--notebooks", default=str(NOTEBOOKS_DIR), help="folder of chapters")
    grade.add_argument("--cell-timeout", type=int, default=60, help="seconds per cell (60)")
    grade.add_argument("--timeout", type=int, default=600, help="seconds per notebook (600)")
    grade.add_argument("--jobs", type=int, default=1, help="notebooks graded at once (1)")
    grade.add_argument("--sandbox", default="auto", choices=("auto", "bwrap", "none"))
    grade.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    feedback = commands.add_parser("feedback", help="HTML feedback for every graded notebook")
    feedback.add_argument("--course", default="course", help="the nbgrader course (course)")
    feedback.add_argument("--out", default="feedback", help="folder for the pages (feedback)")
    return parser


def _release(args: argparse.Namespace) -> int:
    from .course import release

    written = release(args.out_dir, args.chapters, args.notebooks, args.course)
    print(f"released {len(written)} notebook(s) to {args.out_dir}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from .grading import format_flags, format_summary, grade

    report = grade(
        args.submissions,
        args.out,
        course_dir=args.course,
        chapters=args.chapters,
        notebooks_dir=args.notebooks,
        cell_timeout=args.cell_timeout,
        timeout=args.timeout,
        jobs=args.jobs,
        sandbox=args.sandbox,
        progress=not args.no_progress,
    )
    print(f"sandbox: {report.sandbox}")
    if not report.summary:
        print(f"no submissions of the graded chapters in {args.submissions}")
    else:
        print(format_summary(report))
    for note in report.notes:
        print(f"note: {note}")
    print(format_flags(report))
    print(f"grades: {args.out}; gradebook, autograded notebooks and flags.csv: {args.course}")
    return 0


def _feedback(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .feedback import autograded_notebooks, generate_feedback

    pages = generate_feedback(args.course, args.out)
    graded = autograded_notebooks(Path(args.course))
    print(f"{len(pages)} feedback page(s) in {args.out}")
    missing = {(student, stem) for student, stem, _ in graded} - {
        (page.parent.name, page.stem) for page in pages
    }
    for student, stem in sorted(missing):
        print(f"note: no page for {student}/{stem} (nbgrader could not render it)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 2 (with the reason on stderr) for the instructor's mistakes."""
    parser = _parser()
    args = parser.parse_args(argv)
    command = {"release": _release, "grade": _grade, "feedback": _feedback}[args.command]
    try:
        return command(args)
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    except RuntimeError as error:  # nbgrader refused the instructor's course or chapters
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
