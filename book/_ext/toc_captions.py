"""The parts' captions of the table of contents, in the edition's language.

sphinx-external-toc inserts the toctrees of `_toc.yml` (and their captions,
"Getting started", ...) into the root document by a transform of priority 100,
after Sphinx's own translation of the document (priority 20) has run; so the
gettext builder extracts the captions, but no edition would ever translate
them. This transform runs just after the insertion and translates each caption
through the root document's catalog, as Sphinx translates any other message.
"""

from pathlib import Path
from typing import Any

from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.locale import init as init_locale
from sphinx.transforms import SphinxTransform
from sphinx.util.i18n import docname_to_domain

# sphinx_external_toc.events.InsertToctrees.default_priority is 100.
AFTER_TOC_INSERTION = 101


class TranslateTocCaptions(SphinxTransform):
    """Replace every toctree caption of the document by its translation, if any."""

    default_priority = AFTER_TOC_INSERTION

    def apply(self, **kwargs: Any) -> None:
        if not self.config.language or self.config.language == "en":
            return
        domain = docname_to_domain(self.env.docname, self.config.gettext_compact)
        folders = [str(Path(self.env.srcdir) / folder) for folder in self.config.locale_dirs]
        catalog, found = init_locale(folders, self.config.language, domain)
        if not found:
            return
        for toctree in self.document.findall(addnodes.toctree):
            if toctree.get("caption"):
                toctree["caption"] = catalog.gettext(toctree["caption"])


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_transform(TranslateTocCaptions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
