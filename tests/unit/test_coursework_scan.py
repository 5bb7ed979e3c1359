"""The suspicious-code report: what reaches for the grader, nothing of the chapter's own."""

import pytest

from swin_tutorial.coursework.scan import Finding, describe_name, scan_notebook, scan_text


def notebook(*sources, grade_ids=()):
    cells = []
    for index, text in enumerate(sources):
        cell = {"cell_type": "code", "metadata": {}, "source": text, "outputs": []}
        if index < len(grade_ids) and grade_ids[index]:
            cell["metadata"]["nbgrader"] = {"grade_id": grade_ids[index]}
        cells.append(cell)
    return {"cells": cells}


def whats(findings):
    return [finding.what for finding in findings]


@pytest.mark.parametrize(
    "source, expected",
    [
        (
            "import swin_tutorial.coursework.checkers as c\n"
            "c.check_window_partition = lambda *a, **k: None",
            [
                "imports swin_tutorial.coursework.checkers",
                "changes swin_tutorial.coursework.checkers.check_window_partition",
            ],
        ),
        ("import sys\nsys.modules['swin_tutorial'] = None", ["uses sys.modules"]),
        ("import importlib\nimportlib.reload(x)", ["imports importlib", "uses importlib"]),
        ("m = __import__('subprocess')", ["calls __import__"]),
        ("import builtins", ["imports builtins"]),
        ("import os\nos.environ['X'] = '1'", ["uses os.environ"]),
        ("from os import putenv\nputenv('X', '1')", ["imports os.putenv", "uses os.putenv"]),
        ("import signal\nsignal.alarm(1)", ["imports signal", "uses signal"]),
        ("import subprocess as sp\nsp.run(['ls'])", ["imports subprocess", "uses subprocess"]),
        ("import os\nos.system('ls')", ["uses os.system"]),
        ("import os\nos.fork()", ["uses os.fork"]),
        ("import os\nos.kill(1, 9)", ["uses os.kill"]),
        ("import os\nos.execv('/bin/sh', [])", ["uses os.exec..."]),
        ("import multiprocessing", ["imports multiprocessing"]),
        ("import ctypes", ["imports ctypes"]),
        ("import sys\nsys.setprofile(f)", ["uses sys.setprofile"]),
        ("import sys\nsys.settrace(f)", ["uses sys.settrace"]),
        ("import sys\nframe = sys._getframe(1)", ["uses sys._getframe"]),
        ("frame.f_back.f_locals['expected']", ["uses .f_locals", "uses .f_back"]),
        ("import inspect", ["imports inspect"]),
        ("import gc\ngc.get_objects()", ["imports gc", "uses gc"]),
        ("get_ipython().events.register('post_run_cell', f)", ["uses get_ipython"]),
        ("!ls -la", ["runs a shell command (!)"]),
        ("files = !ls", ["runs a shell command (!)"]),
        ("%%bash\necho hi", ["runs the magic %%bash"]),
        ("%system ls", ["runs the magic %system"]),
        ("%sx ls", ["runs the magic %sx"]),
        ("exec('import os')", ["calls exec"]),
        (
            "import swin_tutorial as st\nst.window_partition = f",
            ["changes swin_tutorial.window_partition"],
        ),
        ("import swin_tutorial as st\nsetattr(st, 'x', 1)", ["changes swin_tutorial (setattr)"]),
        (
            "from swin_tutorial.coursework import harness",
            ["imports swin_tutorial.coursework.harness"],
        ),
        (
            "import swin_tutorial.coursework as cw\ncw.fresh_checkers = f",
            ["changes swin_tutorial.coursework.fresh_checkers"],
        ),
        ("import swin_tutorial\nswin_tutorial._checks.x", ["uses swin_tutorial._checks.x"]),
        ("import torch\ntorch.allclose = f", ["changes torch.allclose"]),
        ("import torch\ntorch.Tensor.permute = f", ["changes torch.Tensor.permute"]),
        ("import torch as t\nsetattr(t, 'equal', f)", ["changes torch (setattr)"]),
        ("import sys\nsys.getprofile()", ["uses sys.getprofile"]),
    ],
)
def test_each_way_to_reach_the_grader_is_reported(source, expected):
    assert whats(scan_notebook(notebook(source))) == expected


@pytest.mark.parametrize(
    "source",
    [
        "import torch\nimport swin_tutorial as st\n"
        "x = st.window_partition(torch.zeros(1, 4, 4, 1), 2)",
        "from swin_tutorial.coursework import fresh_checkers\n"
        "fresh_checkers().check_value('a', 1, 1)",
        "import os\npath = os.path.join('a', 'b')",
        "%time y = f(x)\n%matplotlib inline",
        "def window_partition(x, m):\n    return x.reshape(-1, m, m, x.shape[-1])",
    ],
)
def test_ordinary_student_code_is_not_reported(source):
    assert scan_notebook(notebook(source)) == []


def test_findings_give_the_cell_and_line():
    found = scan_notebook(notebook("x = 1", "y = 2\nimport ctypes"))
    assert found == [Finding(cell=2, line=2, what="imports ctypes")]


def test_the_chapters_own_cells_and_restored_tests_are_not_read():
    chapter_cell = "import sys\nsys.path.insert(0, '.')"
    test_cell = "import inspect"
    nb = notebook(chapter_cell, test_cell, "import gc", grade_ids=(None, "ex-1-test", None))
    assert scan_notebook(nb, trusted=[chapter_cell + "\n"], restored=["ex-1-test"]) == [
        Finding(3, 1, "imports gc")
    ]


def test_an_alias_imported_in_a_chapter_cell_counts_in_a_student_cell():
    nb = notebook("import swin_tutorial.coursework.checkers as c", "c.check_shift_mask = None")
    found = scan_notebook(nb, trusted=["import swin_tutorial.coursework.checkers as c"])
    assert whats(found) == ["changes swin_tutorial.coursework.checkers.check_shift_mask"]


def test_a_cell_that_does_not_parse_is_searched_as_text():
    found = scan_notebook(notebook("def f(:\n    importlib.reload(x)\n!rm -rf ~"))
    assert (2, "mentions importlib (text)") in [(f.line, f.what) for f in found]
    assert (3, "runs a shell command or magic (text)") in [(f.line, f.what) for f in found]
    assert scan_text("x = 1", 1) == []


def test_describe_name():
    assert describe_name("os.path.join") is None
    assert describe_name("sys.modules") == "uses sys.modules"
    assert describe_name("swin_tutorial.coursework.fresh_checkers") is None
    assert describe_name("swin_tutorial.coursework.checkers") == (
        "uses swin_tutorial.coursework.checkers"
    )


@pytest.mark.parametrize("bad", [None, {"cells": "no"}, [1, 2]])
def test_bad_notebook_is_refused(bad):
    with pytest.raises(TypeError, match="notebook must be"):
        scan_notebook(bad)


def test_markdown_and_odd_cells_are_ignored():
    nb = {"cells": [{"cell_type": "markdown", "source": "import ctypes"}, "not a cell"]}
    assert scan_notebook(nb) == []
