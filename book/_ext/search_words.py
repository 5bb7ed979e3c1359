"""Chinese search that finds the book's terms.

Sphinx indexes a Chinese page with jieba, which cuts text into the words of its
dictionary: "循环移位" (cyclic shift) becomes 循环 + 移位. The search page does
not cut the reader's query, so a search for 循环移位 would find nothing. This
extension gives jieba every Chinese name of the glossary (book/glossary.md) as
a word of its own, so the index holds the term whole, beside its parts
(`html_search_options["dict"]`, a jieba user dictionary written next to the
build's doctrees). It does nothing for an edition in another language.
"""

import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

GLOSSARY = Path(__file__).resolve().parents[1] / "glossary.md"
# A row of the glossary's table: | English | 中文 | {ref}`chapter-label` |
ROW = re.compile(r"^\| ([^|]+?) \| ([^|]+?) \| \{ref\}`([^`]+)` \|$", re.M)
# How often jieba should think the word occurs: high enough to keep it whole.
FREQUENCY = 100_000


def glossary_rows(glossary: Path = GLOSSARY) -> list[tuple[str, str, str]]:
    """(English, Chinese, chapter label) of every row of the glossary's table."""
    rows = ROW.findall(glossary.read_text(encoding="utf-8"))
    if not rows:
        raise ValueError(f"glossary must hold a table of | English | 中文 | {{ref}} |, {glossary}")
    return rows


def _add_dictionary(app: Sphinx, config: Config) -> None:
    if not (config.language or "").startswith("zh"):
        return
    words = Path(app.doctreedir) / "search_words.txt"
    words.parent.mkdir(parents=True, exist_ok=True)
    words.write_text(
        "".join(f"{chinese} {FREQUENCY}\n" for _, chinese, _ in glossary_rows()), encoding="utf-8"
    )
    config.html_search_options = {**(config.html_search_options or {}), "dict": str(words)}


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _add_dictionary)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
