"""A link on every page of the book to the same page in the other language.

The published site holds the English edition at its root and the Chinese one
in `zh/` (`make site`). An edition names the other one with the Sphinx option
`language_switch` (set in _config.yml and book/zh_edition.yml):

    language_switch = {"root": "zh/", "label": "中文", "lang": "zh-CN"}

`root` is the other edition's folder seen from this edition's root; an empty
option (the student and offline editions, which have no other edition beside
them) puts no link. The link sits at the end of the page's header, beside the
theme's buttons, and points at the same document: `notebooks/04_windows.html`
links to `zh/notebooks/04_windows.html` and back to `../notebooks/04_windows.html`.
"""

from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

TEMPLATE = "language-switch.html"
STYLESHEET = "language_switch.css"
REQUIRED_KEYS = ("root", "label", "lang")


def other_edition_url(pagename: str, root: str) -> str:
    """The URL of page `pagename` in the edition at `root`, relative to the page."""
    return "../" * pagename.count("/") + root + pagename + ".html"


def _check_option(app: Sphinx, config: Config) -> None:
    option = config.language_switch
    if not option:
        return
    if not isinstance(option, dict) or any(key not in option for key in REQUIRED_KEYS):
        raise ValueError(
            f"language_switch must be empty or a dict with keys {REQUIRED_KEYS}, got {option!r}"
        )
    here = Path(__file__).parent
    config.templates_path.append(str(here / "language_switch_templates"))
    config.html_static_path.append(str(here / "language_switch_static"))
    app.add_css_file(STYLESHEET)


def _add_link(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    option = app.config.language_switch
    if not option:
        return
    context["language_switch"] = {
        "url": other_edition_url(pagename, option["root"]),
        "label": option["label"],
        "lang": option["lang"],
    }
    header_end = context.get("theme_article_header_end") or []
    if isinstance(header_end, str):
        header_end = [name.strip() for name in header_end.split(",") if name.strip()]
    context["theme_article_header_end"] = [*header_end, TEMPLATE]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("language_switch", {}, "html", types=[dict])
    app.connect("config-inited", _check_option)
    # Before the theme turns the header's template names into its list (priority 500).
    app.connect("html-page-context", _add_link, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
