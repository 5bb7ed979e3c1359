# Two commands a newcomer needs: `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install; reinstalls only when the pins or the
# package metadata change, so repeated `make book` / `make test` start at once.
STAMP := $(VENV)/.installed
export MPLBACKEND := Agg

.PHONY: env book test clean

env: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -r requirements.txt
	$(BIN)/pip install -e . --no-deps
	touch $(STAMP)

book: env
	$(BIN)/jupyter-book build . -W -n --keep-going

# Package tests (they include the book build), then strict nbval on every
# chapter. pytest exits 5 when it collects nothing, so the nbval step runs only
# once notebooks/ holds a notebook.
test: env
	$(BIN)/python -m pytest tests -p no:cacheprovider
	if ls notebooks/*.ipynb >/dev/null 2>&1; then \
	  $(BIN)/python -m pytest --nbval notebooks --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider; \
	else \
	  echo "notebooks/ has no notebooks yet: nothing for nbval to check"; \
	fi

clean:
	rm -rf _build
