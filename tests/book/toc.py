"""The book's pages, as _toc.yml lists them: shared by the tests of this folder."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _files(node: object) -> list[str]:
    """Every `file` of a jb-book table of contents, in reading order."""
    pages: list[str] = []
    if isinstance(node, dict):
        if "file" in node:
            pages.append(str(node["file"]))
        for key in ("parts", "chapters", "sections"):
            pages += _files(node.get(key, []))
    elif isinstance(node, list):
        for item in node:
            pages += _files(item)
    return pages


_TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
#: The root page, then every page of _toc.yml in reading order (e.g. "notebooks/04_windows").
PAGES: list[str] = [str(_TOC["root"]), *_files(_TOC)]
