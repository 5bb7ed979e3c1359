"""Point the book at another repository: `make set-repo URL=https://github.com/OWNER/NAME`.

`repository.url` in `_config.yml` is the single setting: the launch and
repository buttons are built from it, and the install cell (the first code
cell) of every notebook repeats it as `REPO_URL = "..."` so that Colab can
`pip install git+REPO_URL`. This script rewrites both: the one `url:` line of
`_config.yml` and the one `REPO_URL` line of each notebook, as text, so that
everything else (comments, the notebooks' JSON layout, their outputs) stays
byte for byte as it was. `--check` only reports notebooks that disagree.
"""

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# A GitHub repository's address: https://github.com/OWNER/NAME, nothing more
# (no trailing slash, no .git, no path below it).
URL_PATTERN = re.compile(
    r"https://github\.com/[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/(?!.*\.git$)[A-Za-z0-9._-]+"
)
# The REPO_URL line of an install cell, as it is written in the notebook's JSON.
REPO_URL_LINE = re.compile(r'(REPO_URL = \\")([^"\\]*)(\\")')


def check_url(url: str) -> str:
    """Return `url` if it is https://github.com/OWNER/NAME, else raise ValueError."""
    if not URL_PATTERN.fullmatch(url) or url.rstrip("/").endswith((".", "..")):
        raise ValueError(
            f"{url=} is not a GitHub repository address: expected "
            "https://github.com/OWNER/NAME (no trailing slash, no .git)"
        )
    return url


def config_url(root: Path) -> str:
    """repository.url of root/_config.yml."""
    return yaml.safe_load((root / "_config.yml").read_text())["repository"]["url"]


def install_cell_urls(notebook: Path) -> list[str]:
    """The REPO_URL values in the notebook's first code cell (one, when it is well formed)."""
    cells = json.loads(notebook.read_text())["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    source = "".join(code[0]["source"]) if code else ""
    return re.findall(r'REPO_URL = "([^"]*)"', source)


def mismatches(root: Path) -> list[str]:
    """One line for each notebook whose install cell does not name repository.url."""
    url = config_url(root)
    problems = []
    for notebook in sorted((root / "notebooks").glob("*.ipynb")):
        found = install_cell_urls(notebook)
        if found != [url]:
            problems.append(f"{notebook.name}: install cell names {found}, _config.yml {url}")
    return problems


def _set_config_url(root: Path, url: str) -> None:
    path = root / "_config.yml"
    text = path.read_text()
    old = config_url(root)
    pattern = re.compile(
        r"^(repository:[^\n]*\n(?:(?:[ \t]+[^\n]*|[ \t]*#[^\n]*|[ \t]*)\n)*?[ \t]+url:[ \t]*)"
        + r"([\"']?)"
        + re.escape(old)
        + r"\2[ \t]*$",
        re.MULTILINE,
    )
    new_text, count = pattern.subn(lambda m: f"{m.group(1)}{m.group(2)}{url}{m.group(2)}", text)
    if count != 1:
        raise RuntimeError(f"{path}: found {count} repository.url lines, expected 1")
    path.write_text(new_text)
    assert config_url(root) == url


def _set_notebook_url(notebook: Path, url: str) -> bool:
    text = notebook.read_text()
    if len(REPO_URL_LINE.findall(text)) != 1:
        raise RuntimeError(f"{notebook}: expected one REPO_URL line in its install cell")
    new_text = REPO_URL_LINE.sub(lambda m: m.group(1) + url + m.group(3), text)
    if new_text == text:
        return False
    notebook.write_text(new_text)
    assert install_cell_urls(notebook) == [url]
    return True


def set_repo(root: Path, url: str) -> list[Path]:
    """Write `url` into root/_config.yml and every notebook; return the notebooks changed."""
    check_url(url)
    notebooks = sorted((root / "notebooks").glob("*.ipynb"))
    for notebook in notebooks:  # every notebook well formed before anything is written
        if len(REPO_URL_LINE.findall(notebook.read_text())) != 1:
            raise RuntimeError(f"{notebook}: expected one REPO_URL line in its install cell")
    _set_config_url(root, url)
    return [notebook for notebook in notebooks if _set_notebook_url(notebook, url)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", help="https://github.com/OWNER/NAME")
    parser.add_argument("--root", type=Path, default=ROOT, help="the book's folder")
    parser.add_argument("--check", action="store_true", help="only report disagreements")
    args = parser.parse_args(argv)
    if args.check:
        problems = mismatches(args.root)
        print("\n".join(problems) or f"every install cell names {config_url(args.root)}")
        return 1 if problems else 0
    if not args.url:
        parser.error(
            "give the repository's address: make set-repo URL=https://github.com/OWNER/NAME"
        )
    try:
        changed = set_repo(args.root, args.url)
    except (ValueError, RuntimeError) as error:
        print(f"set-repo: {error}", file=sys.stderr)
        return 2
    print(f"repository.url and the install cells of {len(changed)} notebooks: {args.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
