# Two commands a newcomer needs: `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install; reinstalls only when the pins or the
# package metadata change, so repeated `make book` / `make test` start at once.
STAMP := $(VENV)/.installed
export MPLBACKEND := Agg

.PHONY: env book student mathjax book-offline book-zh pot locales lint check test clean \
	pdf site publish set-repo

env: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -r requirements.txt
	$(BIN)/pip install -e . --no-deps
	touch $(STAMP)

book: env
	$(BIN)/jupyter-book build . -W -n --keep-going

# An edition's configuration: _config.yml with the `sphinx` keys of an overlay
# (book/*_edition.yml) added, and the local extensions' folders made absolute
# (Jupyter Book reads them relative to the configuration file, which is written
# elsewhere). Usage: $(EDITION_CONFIG) OVERLAY OUTPUT
EDITION_CONFIG = $(BIN)/python -c 'import os, sys, yaml; c, o = (yaml.safe_load(open(f)) for f in sys.argv[1:3]); \
	  c["sphinx"]["recursive_update"] = o["sphinx"].get("recursive_update", False); \
	  c["sphinx"]["config"].update(o["sphinx"]["config"]); \
	  ext = c["sphinx"].get("local_extensions", {}); ext.update((k, os.path.abspath(v)) for k, v in ext.items()); \
	  yaml.safe_dump(c, open(sys.argv[3], "w"), allow_unicode=True)' _config.yml

# An edition built from the repository with an overlay: its configuration
# written into OUT, the builder's output into OUT/_build, warnings as errors.
# Usage, as a recipe line: $(call BUILD_EDITION,OVERLAY,OUT[,BUILDER OPTIONS])
BUILD_EDITION = mkdir -p $(2) && $(EDITION_CONFIG) $(1) $(2)/_config.yml && \
	$(BIN)/jupyter-book build . --config $(2)/_config.yml --path-output $(2) $(3) -W -n --keep-going

# The student edition, built from the release (`python -m swin_tutorial.coursework
# release`: nbgrader's student notebooks, every solution and hidden test stripped,
# the exercises' outputs cleared), never from the chapters themselves. Its source
# tree is put together in $(STUDENT_SRC): the released notebooks, book/, _toc.yml
# and _config.yml with book/student_edition.yml's keys (no notebook sources, no
# download or launch buttons); the HTML goes to $(STUDENT_OUT)/_build/html.
# tests/book/test_student_release.py checks that no line of a solution is left.
STUDENT_OUT ?= _build/student
STUDENT_SRC := $(STUDENT_OUT)/src
STUDENT_RELEASE := $(BIN)/python -m swin_tutorial.coursework release
student: env
	@test -n "$(STUDENT_OUT)" || { echo "make student: STUDENT_OUT is empty"; exit 2; }
	rm -rf $(STUDENT_SRC) $(STUDENT_OUT)/_build
	mkdir -p $(STUDENT_SRC)
	$(STUDENT_RELEASE) $(STUDENT_SRC)/notebooks
	cp -r _toc.yml book $(STUDENT_SRC)/
	$(EDITION_CONFIG) book/student_edition.yml $(STUDENT_SRC)/_config.yml
	$(BIN)/jupyter-book build $(STUDENT_SRC) --path-output $(STUDENT_OUT) -W -n --keep-going

# MathJax for the offline edition, from the npm registry, installed once into
# _build/mathjax (a cache, never committed): the tex-mml-chtml component the
# book uses, the parts it loads at run time (TeX extensions, fonts, renderers,
# menu, accessibility) and its licence, copied to _build/mathjax/static/mathjax.
MATHJAX_VERSION := 3.2.2
MATHJAX_DIR := _build/mathjax
MATHJAX_STAMP := $(MATHJAX_DIR)/installed-$(MATHJAX_VERSION)
mathjax: $(MATHJAX_STAMP)

$(MATHJAX_STAMP):
	@command -v npm >/dev/null || { echo "make mathjax: npm is needed to install MathJax for the offline edition"; exit 1; }
	npm install --prefix $(MATHJAX_DIR) --no-save --no-audit --no-fund mathjax@$(MATHJAX_VERSION)
	rm -rf $(MATHJAX_DIR)/static $(MATHJAX_DIR)/installed-*
	mkdir -p $(MATHJAX_DIR)/static/mathjax
	cd $(MATHJAX_DIR)/node_modules/mathjax && cp -r LICENSE es5/tex-mml-chtml.js es5/input es5/output \
	  es5/ui es5/a11y es5/sre es5/adaptors $(CURDIR)/$(MATHJAX_DIR)/static/mathjax/
	touch $(MATHJAX_STAMP)

# The offline edition: equations typeset by the MathJax copy served with the
# site instead of a CDN, so the book works with no internet; built into
# _build/offline/_build/html. book/offline_edition.yml says what differs.
OFFLINE_OUT ?= _build/offline
book-offline: env mathjax
	$(call BUILD_EDITION,book/offline_edition.yml,$(OFFLINE_OUT))
	@echo "offline edition: $$(du -sh $(OFFLINE_OUT)/_build/html | cut -f1) in $(OFFLINE_OUT)/_build/html"

# The Chinese edition: the same notebooks, with the prose of every document
# translated through Sphinx's gettext catalogs in locales/zh_CN/LC_MESSAGES/
# (one per document); built into _build/zh/_build/html with offline MathJax.
# book/zh_edition.yml says what differs.
ZH_OUT ?= _build/zh
book-zh: env mathjax
	$(call BUILD_EDITION,book/zh_edition.yml,$(ZH_OUT))

# After a change to the English prose: extract the messages again (one .pot per
# document, book/gettext.yml) and merge them into the catalogs with sphinx-intl
# (new messages come in empty, changed ones marked fuzzy); then translate them.
# tests/book/test_translation.py fails until every message is translated.
# `make pot` only extracts the templates, into $(GETTEXT_OUT)/_build/gettext
# (tests/book/test_translation.py compares them with the catalogs).
GETTEXT_OUT ?= _build/gettext
pot: env
	$(call BUILD_EDITION,book/gettext.yml,$(GETTEXT_OUT),--builder custom --custom-builder gettext)

locales: pot
	$(BIN)/python tools/i18n.py update $(GETTEXT_OUT)/_build/gettext

# What ruff checks: the package, the tests and the scripts; the chapters are
# only format-checked, at the width of the book's column (notebooks/ruff.toml).
LINTED := swin_tutorial tests benchmarks tools book/_ext
# The GitHub workflows are checked by actionlint (requirements.txt installs a
# wheel that ships its binary).
WORKFLOWS := .github/workflows/*.yml
lint: env
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/ruff format --check notebooks
	$(BIN)/actionlint $(WORKFLOWS)

# The edit-test loop: lint and the package's unit tests on two workers,
# leaving out the slow ones (scripts and the grader run end to end as
# subprocesses); `make test` runs those too.
check: lint
	$(BIN)/python -m pytest tests/unit -n 2 -m "not slow" -p no:cacheprovider -q

# Everything: lint, the unit tests, the book's tests (builds of every edition,
# the browser test: tests/book), then strict nbval on every chapter, twice: the
# second pass with PyTorch's vectorised CPU kernels off and one thread, so that
# an output whose digits depend on the machine fails here, not on a reader's.
NBVAL := -m pytest --nbval notebooks --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider
test: lint mathjax
	$(BIN)/python -m pytest tests/unit -n 2 -p no:cacheprovider
	$(BIN)/python -m pytest tests/book -p no:cacheprovider
	$(BIN)/python $(NBVAL)
	ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python $(NBVAL)

# The PDF edition, through Jupyter Book's LaTeX builder with XeLaTeX, into
# _build/pdf/book.pdf. book/pdf_edition.yml says what differs (fonts that cover
# the chapters' symbols; solutions left out, as in the student edition).
PDF_OUT ?= _build/pdf
PDF_DEBS := texlive-xetex latexmk texlive-latex-recommended texlive-latex-extra \
	texlive-fonts-recommended tex-gyre fonts-freefont-otf
pdf: env
	@missing=""; for tool in xelatex latexmk fc-list; do \
	  command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	  fc-list 2>/dev/null | grep -q FreeSerif.otf || missing="$$missing FreeSerif.otf"; \
	  if [ -n "$$missing" ]; then \
	    echo "make pdf: missing$$missing; install TeX Live and the fonts (Debian):"; \
	    echo "  apt-get install $(PDF_DEBS)"; exit 1; fi
	$(call BUILD_EDITION,book/pdf_edition.yml,$(PDF_OUT),--builder pdflatex)
	cp $(PDF_OUT)/_build/latex/book.pdf $(PDF_OUT)/book.pdf
	@echo "PDF edition: $(PDF_OUT)/book.pdf"

# The site that .github/workflows/book.yml deploys, from editions already
# built: the default edition at the root, the student edition in student/,
# the Chinese edition in zh/ where it was built (ZH_HTML); the language switch
# of every page (book/_ext/language_switch.py) expects this layout.
SITE_OUT ?= _build/site
ZH_HTML ?= $(ZH_OUT)/_build/html
site:
	test -f _build/html/index.html && test -f $(STUDENT_OUT)/_build/html/index.html
	rm -rf $(SITE_OUT)
	mkdir -p $(SITE_OUT)
	cp -r _build/html/. $(SITE_OUT)/
	cp -r $(STUDENT_OUT)/_build/html $(SITE_OUT)/student
	if [ -f $(ZH_HTML)/index.html ]; then cp -r $(ZH_HTML) $(SITE_OUT)/zh; fi
	@echo "site: $(SITE_OUT)"

# Publish by hand: push the built book to the gh-pages branch of `origin`
# (Settings > Pages: deploy from the gh-pages branch). PUBLISH_DIR=_build/site
# publishes every edition, after `make book student site`.
PUBLISH_DIR ?= _build/html
publish: book
	$(BIN)/ghp-import --no-jekyll --push --force --message "Publish the book" $(PUBLISH_DIR)

# Point the book at a fork: repository.url in _config.yml and REPO_URL in
# every notebook's install cell (tools/set_repo.py).
set-repo: env
	@test -n "$(URL)" || { echo "usage: make set-repo URL=https://github.com/OWNER/NAME"; exit 2; }
	$(BIN)/python tools/set_repo.py "$(URL)"

clean:
	rm -rf _build
