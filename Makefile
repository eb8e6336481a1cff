# FinEdge: everything starts here. `make demo` and `make test` bootstrap .venv from
# the project's own pinned files (constraints.txt) and download nothing at run time.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: all venv demo test lint fmt migrate seed clean bench

all: test

$(STAMP): pyproject.toml constraints.txt Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt pip setuptools wheel
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	# face_recognition declares "dlib" (source only, a long compile); dlib-bin above provides it.
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps face_recognition==1.3.0
	$(BIN)/python -c "import face_recognition, dlib, amqtt, paho.mqtt, sqlalchemy, flask_smorest"
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(STAMP) lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

migrate: $(STAMP)
	$(BIN)/finedge db upgrade

seed: migrate
	$(BIN)/finedge seed

demo: $(STAMP)
	$(BIN)/finedge db upgrade
	$(BIN)/finedge seed
	$(BIN)/finedge serve --host 127.0.0.1 --port 5000 --mqtt-port 18830

bench: $(STAMP)
	$(BIN)/finedge bench ledger

clean:
	rm -rf $(VENV) var/*.db .pytest_cache .ruff_cache
