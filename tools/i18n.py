"""The Chinese edition's message catalogs: what a translation must keep.

A message is one paragraph, heading, caption, list item or alt text of the
English book, in MyST markdown; its translation is rendered by the same parser.
`message_problems(msgid, msgstr)` parses both and compares what must survive
translation unchanged: inline and display math, inline code, roles and their
targets ({ref}, {eq}, {numref}, {cite}, ...), link targets, footnote
references, and the emphasis of the original (a `**...**` whose closing
asterisks follow Chinese punctuation is not bold in CommonMark, and the check
catches it). Role titles (`{ref}`其他文字 <target>``) may be translated. A
numbered heading's translation escapes its number (`4\\. 窗口`).

Usage (from the repository root):

    python tools/i18n.py check [locales/zh_CN/LC_MESSAGES/notebooks/04_windows.po ...]

prints every problem of the catalogs named (all of them when none is named)
and exits with status 1 if there is one.

    python tools/i18n.py update _build/gettext/_build/gettext

(what `make locales` runs) merges the message templates extracted by Sphinx's
gettext builder into the catalogs with sphinx-intl: new messages come in
untranslated, changed ones fuzzy, removed ones are dropped. A display equation
is a message of its own with nothing to translate: it is copied.
"""

import re
import sys
from collections import Counter
from pathlib import Path

from babel.messages.pofile import read_po, write_po
from markdown_it.renderer import RendererHTML
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser
from sphinx_intl.basic import update as merge_templates

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ROOT / "locales"
LANGUAGE = "zh_CN"
CATALOGS = LOCALES / LANGUAGE / "LC_MESSAGES"
# The markdown extensions of _config.yml (parse.myst_enable_extensions).
EXTENSIONS = {
    "amsmath",
    "colon_fence",
    "deflist",
    "dollarmath",
    "html_image",
    "linkify",
    "substitution",
}
_PARSER = create_md_parser(MdParserConfig(enable_extensions=EXTENSIONS), RendererHTML)
# Inline tokens whose text must be the same in both languages.
_VERBATIM = {"code_inline", "math_inline", "math_inline_double", "footnote_ref"}
# Tokens whose number must be the same (their text is translated).
_COUNTED = {"strong_open", "em_open", "link_open", "image"}


def _role_target(content: str) -> str:
    """`title <target>` -> `target`; a role without a title is its own target."""
    content = content.strip()
    if content.endswith(">") and "<" in content:
        return content[content.rindex("<") + 1 : -1].strip()
    return content


def message_structure(text: str) -> Counter[str]:
    """What of one message must survive translation, as a multiset of descriptions."""
    found: Counter[str] = Counter()
    for token in _PARSER.parse(text):
        if token.type in {"math_block", "math_block_label", "amsmath", "fence"}:
            found[f"{token.type} {token.content.strip()}"] += 1
        if token.type == "fence" or token.type.startswith("container_"):
            found[f"directive {token.info.strip()}"] += 1
        for child in token.children or []:
            if child.type in _VERBATIM:
                found[f"{child.type} {child.content}"] += 1
            elif child.type == "myst_role":
                found[f"role {{{child.meta['name']}}} {_role_target(child.content)}"] += 1
            elif child.type == "link_open":
                found[f"link {child.attrs.get('href')}"] += 1
            elif child.type in _COUNTED:
                found[child.type] += 1
    return found


# A message that starts like an ordered list item is a numbered heading ("4. Windows: ...").
# Sphinx parses a heading's translation as markdown of its own, where `4. ` would
# start a list and the heading would stay English: the translation writes `4\. `.
NUMBERED_HEADING = re.compile(r"\d+\. ")
ESCAPED_NUMBER = re.compile(r"\d+\\\. ")


def message_problems(msgid: str, msgstr: str) -> list[str]:
    """Why `msgstr` is not a faithful translation of `msgid` ([] when it is)."""
    if not msgstr.strip():
        return ["untranslated"]
    source, target = message_structure(msgid), message_structure(msgstr)
    problems = [f"lost: {item}" for item in (source - target)]
    problems += [f"added: {item}" for item in (target - source)]
    if NUMBERED_HEADING.match(msgid) and not ESCAPED_NUMBER.match(msgstr):
        problems.append("a numbered heading: start the translation with `N\\. `, not `N. `")
    return problems


def catalog_problems(path: Path) -> list[str]:
    """Every problem of one .po file: untranslated, fuzzy, or a broken message."""
    with path.open("rb") as handle:
        catalog = read_po(handle)
    problems = []
    for message in catalog:
        if not message.id:
            continue
        where = f"{path.relative_to(ROOT)}:{message.lineno}"
        if message.fuzzy:
            problems.append(f"{where}: fuzzy: {message.id[:60]!r}")
        for problem in message_problems(message.id, message.string):
            problems.append(f"{where}: {problem}: {message.id[:60]!r}")
    return problems


def is_display_math(msgid: str) -> bool:
    """A `$$...$$` block's message: the LaTeX between two line breaks."""
    return msgid.startswith("\n") and msgid.endswith("\n")


def copy_display_math(path: Path) -> int:
    """Give every untranslated display equation of a catalog itself; returns how many."""
    with path.open("rb") as handle:
        catalog = read_po(handle)
    copied = 0
    for message in catalog:
        if message.id and is_display_math(message.id) and not message.string:
            message.string = message.id
            message.flags.discard("fuzzy")
            copied += 1
    if copied:
        with path.open("wb") as handle:
            write_po(handle, catalog)
    return copied


def update(templates: Path) -> None:
    """Merge the .pot files under `templates` into the catalogs (see the module's doc)."""
    if not any(templates.rglob("*.pot")):
        raise ValueError(f"templates must be a folder of .pot files, found none in {templates}")
    merge_templates(str(LOCALES), str(templates), (LANGUAGE,), ignore_obsolete=True)
    for path in sorted(CATALOGS.rglob("*.po")):
        copy_display_math(path)


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "update":
        update(Path(argv[1]))
        return 0
    if not argv or argv[0] != "check":
        print(__doc__)
        return 2
    paths = [Path(p).resolve() for p in argv[1:]] or sorted(CATALOGS.rglob("*.po"))
    problems = [problem for path in paths for problem in catalog_problems(path)]
    print("\n".join(problems) or f"{len(paths)} catalogs: every message translated and intact")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
