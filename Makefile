# Two commands a newcomer needs: `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install; reinstalls only when the pins or the
# package metadata change, so repeated `make book` / `make test` start at once.
STAMP := $(VENV)/.installed
export MPLBACKEND := Agg

.PHONY: env book student test clean

env: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -r requirements.txt
	$(BIN)/pip install -e . --no-deps
	touch $(STAMP)

book: env
	$(BIN)/jupyter-book build . -W -n --keep-going

# The student edition: every exercise solution removed, built into
# _build/student/_build/html; book/student_edition.yml says what differs.
STUDENT_OUT ?= _build/student
STUDENT_CONFIG := $(STUDENT_OUT)/_config.yml
student: env
	mkdir -p $(STUDENT_OUT)
	$(BIN)/python -c 'import sys, yaml; c, o = (yaml.safe_load(open(f)) for f in sys.argv[1:3]); \
	  c["sphinx"]["recursive_update"] = o["sphinx"]["recursive_update"]; \
	  c["sphinx"]["config"].update(o["sphinx"]["config"]); \
	  yaml.safe_dump(c, open(sys.argv[3], "w"))' _config.yml book/student_edition.yml $(STUDENT_CONFIG)
	$(BIN)/jupyter-book build . --config $(STUDENT_CONFIG) --path-output $(STUDENT_OUT) -W -n --keep-going

# Package tests (they include both book builds), then strict nbval on every chapter.
test: env
	$(BIN)/python -m pytest tests -p no:cacheprovider
	$(BIN)/python -m pytest --nbval notebooks --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

clean:
	rm -rf _build
