"""The Chinese edition never drifts from the English one.

The message templates are extracted again from the current sources (`make pot`,
Sphinx's gettext builder, one template per document) and compared with the
catalogs in locales/zh_CN/LC_MESSAGES/: every message of every document must
be translated, none fuzzy, none left over from prose that is gone. So a change
to the English prose fails here until `make locales` has merged it and it is
translated. Message by message, what must survive translation (math, inline
code, roles and their targets, links, emphasis) is compared by parsing both
texts as MyST markdown (tools/i18n.py). The glossary page (book/glossary.md)
is held to its word: wherever a translated message's English has a glossary
term, the Chinese has the glossary's name for it.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "locales" / "zh_CN" / "LC_MESSAGES"
GLOSSARY = ROOT / "book" / "glossary.md"
BIN = Path(sys.executable).parent


def _load(name: str, path: Path):
    """A module of the repository that is not in a package (tools/, book/_ext/)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


i18n = _load("i18n_tools", ROOT / "tools" / "i18n.py")
search_words = _load("search_words", ROOT / "book" / "_ext" / "search_words.py")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("jupyter_book") is None
        or importlib.util.find_spec("sphinx_intl") is None,
        reason="jupyter-book and sphinx-intl are not installed in this environment "
        "(pip install -r requirements.txt)",
    ),
]


def _messages(path: Path) -> dict[str, object]:
    """msgid -> babel Message of one .pot or .po file (the header left out)."""
    with path.open("rb") as handle:
        return {message.id: message for message in read_po(handle) if message.id}


def _catalogs() -> dict[str, Path]:
    """document name (e.g. notebooks/04_windows) -> its .po file."""
    return {
        path.relative_to(CATALOGS).with_suffix("").as_posix(): path
        for path in sorted(CATALOGS.rglob("*.po"))
    }


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, dict[str, object]]:
    """document -> its messages, extracted now from the sources by `make pot`."""
    out = tmp_path_factory.mktemp("gettext")
    result = subprocess.run(
        ["make", "-o", "env", "pot", f"BIN={BIN}", f"GETTEXT_OUT={out}"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, f"make pot failed:\n{result.stdout[-4000:]}{result.stderr}"
    folder = out / "_build" / "gettext"
    return {
        path.relative_to(folder).with_suffix("").as_posix(): _messages(path)
        for path in sorted(folder.rglob("*.pot"))
    }


def test_every_document_has_a_catalog(templates):
    assert len(templates) >= 19, sorted(templates)
    assert sorted(templates) == sorted(_catalogs()), (
        "the catalogs (locales/zh_CN/LC_MESSAGES) do not match the book's documents: "
        "run `make locales`"
    )


def test_every_message_is_translated(templates):
    """New English is untranslated and changed English fuzzy until someone translates it."""
    catalogs = _catalogs()
    problems = []
    for document, messages in templates.items():
        translated = _messages(catalogs[document]) if document in catalogs else {}
        for msgid in messages:
            message = translated.get(msgid)
            if message is None or not message.string:
                problems.append(f"{document}: untranslated: {msgid[:70]!r}")
            elif message.fuzzy:
                problems.append(f"{document}: fuzzy: {msgid[:70]!r}")
        problems += [
            f"{document}: left over from prose that is gone: {msgid[:70]!r}"
            for msgid in translated
            if msgid not in messages
        ]
    assert problems == [], (
        f"{len(problems)} messages: run `make locales`, then translate them in "
        "locales/zh_CN/LC_MESSAGES/\n  " + "\n  ".join(problems[:40])
    )
    total = sum(len(messages) for messages in templates.values())
    print(f"{total} messages in {len(templates)} documents, all translated")


@pytest.mark.parametrize("document", sorted(_catalogs()))
def test_translations_keep_math_code_roles_and_links(document):
    assert i18n.catalog_problems(_catalogs()[document]) == []


# --------------------------------------------------------------------------- the glossary


def _glossary() -> list[tuple[str, str, str]]:
    """(English, Chinese, chapter label) of every row of the glossary's table."""
    rows = search_words.glossary_rows(GLOSSARY)
    assert len(rows) >= 20, rows
    return rows


def _prose(text: str) -> str:
    """A message without its roles, inline code, math and link targets."""
    return re.sub(r"\{[a-z:]+\}`[^`]*`|`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|\]\([^)]*\)", " ", text)


def _term(english: str) -> re.Pattern[str]:
    """The term as a word, any case, spaces or hyphens between its words, plural too."""
    words = re.escape(english).replace(r"\ ", r"[\s-]").replace("neighbourhood", "neighbou?rhood")
    return re.compile(rf"(?i)(?<![\w-]){words}(?:s|es)?(?![\w-])")


def _keeps_the_term(english_use: str, translation: str, chinese: str) -> bool:
    """The translation names the term as the glossary does, or keeps the English words
    as they are written (a paper's title, a quoted name: "Stand-alone self-attention")."""
    return chinese in translation or english_use in translation


def test_glossary_terms_are_translated_as_the_glossary_says():
    problems = []
    catalogs = {doc: _messages(path) for doc, path in _catalogs().items() if doc != "book/glossary"}
    for english, chinese, _ in _glossary():
        term = _term(english)
        for document, messages in catalogs.items():
            for msgid, message in messages.items():
                if i18n.is_display_math(msgid):
                    continue
                problems += [
                    f"{document}: {use.group(0)!r} is neither {chinese!r} nor kept in "
                    f"{message.string[:70]!r}"
                    for use in term.finditer(_prose(msgid))
                    if not _keeps_the_term(use.group(0), message.string, chinese)
                ]
    assert problems == [], "\n".join(problems)


def test_glossary_chapters_explain_their_terms(templates):
    """The chapter a term points to says the term (a renamed term breaks the row)."""
    labels = {}
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for label in re.findall(r'"\((chapter-[a-z0-9-]+)\)=', notebook.read_text()):
            labels[label] = f"notebooks/{notebook.stem}"
    missing = []
    for english, _, label in _glossary():
        prose = " ".join(_prose(msgid) for msgid in templates[labels[label]])
        if not _term(english).search(prose):
            missing.append(f"{english!r} is not in {labels[label]}")
    assert missing == []


def test_the_tools_catch_a_broken_translation():
    """The per-message check is not vacuous: each kind of damage is reported."""
    english = (
        "The roll by $s$ in `torch.roll` ({ref}`chapter-windows`, {eq}`math-msa`) is "
        "**exact** [here](https://example.org)."
    )
    good = (
        "`torch.roll` 中按 $s$ 的滚动（{ref}`第 4 章 <chapter-windows>`，{eq}`math-msa`）"
        "是**精确的**，见[这里](https://example.org)。"
    )
    assert i18n.message_problems(english, good) == []
    damaged = {
        "math": good.replace("$s$", "$S$"),
        "code": good.replace("`torch.roll`", "torch.roll"),
        "role": good.replace("{eq}`math-msa`", "式 (3.1)"),
        "target": good.replace("<chapter-windows>", "<chapter-window>"),
        "link": good.replace("https://example.org", "https://example.com"),
        "bold": good.replace("**精确的**，", "**精确的，**"),
        "empty": "",
    }
    for kind, translation in damaged.items():
        assert i18n.message_problems(english, translation), kind
