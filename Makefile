# FinEdge: everything starts here. `make demo` and `make test` bootstrap .venv from
# the project's own pinned files (constraints.txt) and download nothing at run time.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# The suite runs on both cores (pytest-xdist): each worker makes its own databases, topic
# prefixes and ports, so the tests are independent of each other's process.
PYTEST_WORKERS ?= 2

.PHONY: all venv demo test lint fmt migrate seed clean bench

all: test

$(STAMP): pyproject.toml constraints.txt Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt pip setuptools wheel
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	# face_recognition declares "dlib" (source only, a long compile); dlib-bin above provides it.
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps face_recognition==1.3.0
	# rapidocr-onnxruntime declares opencv-python (the GUI build, which needs libGL); the
	# headless build above provides cv2. Its wheel carries the OCR models: nothing downloads.
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps rapidocr-onnxruntime==1.4.4
	$(BIN)/python -c "import face_recognition, dlib, amqtt, paho.mqtt, sqlalchemy, flask_smorest, rapidocr_onnxruntime, huey"
	# Face test photographs (messi5.jpg, basketball1.png) come from Debian's opencv-doc (~95 MB);
	# the browser tests and `finedge bench pages` drive Debian's chromium (/usr/bin/chromium, with
	# fonts-wqy-microhei so Chinese screenshots are legible)
	# through Playwright (pinned above); Playwright's own browser download is never used.
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  dpkg -s opencv-doc chromium fonts-wqy-microhei >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends opencv-doc chromium fonts-wqy-microhei; } \
	  || echo "opencv-doc or chromium not installed: face photograph and browser tests will skip"; \
	else echo "not root: opencv-doc and chromium not installed; face photograph and browser tests will skip"; fi
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
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --durations=40 $(PYTEST_ARGS)

migrate: $(STAMP)
	$(BIN)/finedge db upgrade

seed: migrate
	$(BIN)/finedge seed

# What `make demo` seeds (tests/e2e/test_demo_seed.py runs exactly this): every area's demo
# data, with 200 enterprises' risk histories, the trained models and a first full scan (about
# 6 s on SQLite). `finedge seed` without options leaves the risk area empty.
DEMO_SEED_ARGS := --enterprises 200

# serve (HTTP, Socket.IO, central broker and ingest), branch BR001's edge and simulated devices,
# all stopped together by Ctrl-C or a SIGTERM to the recipe's shell (its trap); serve failing to
# start (a port in use: one line) stops the others. See docs/iot.md. The demo's
# people play a cash-loading task at the simulated lock and cash machine once the branch is
# online, and again every 10 minutes (devices/scenario.py; docs/branch.md).
demo: $(STAMP)
	$(BIN)/finedge db upgrade
	$(BIN)/finedge seed $(DEMO_SEED_ARGS)
	@trap 'kill $$edge $$devices $$serve $$clearing $$robots $$legacy 2>/dev/null; wait' EXIT INT TERM; \
	$(BIN)/finedge edge --branch BR001 --mqtt-port 18831 & edge=$$!; \
	FINEDGE_LEGACY_PASSWORD=legacy-demo $(BIN)/finedge rpa legacy-app --port 8790 \
	  > var/legacy-app.log 2>&1 & legacy=$$!; \
	FINEDGE_LEGACY_URL=http://127.0.0.1:8790 FINEDGE_LEGACY_PASSWORD=legacy-demo \
	  $(BIN)/finedge rpa worker --workers 2 > var/rpa-worker.log 2>&1 & robots=$$!; \
	$(BIN)/finedge devices --branch BR001 --scenario cash-loading --scenario-every 600 & devices=$$!; \
	$(BIN)/finedge serve --host 127.0.0.1 --port 5000 --mqtt-port 18830 & serve=$$!; \
	$(BIN)/finedge clearing-sim --url http://127.0.0.1:5000 --wait 120 --seed $$(date +%s) \
	  --faults duplicates,reorder > var/clearing-sim.log 2>&1 & clearing=$$!; \
	wait $$serve

bench: $(STAMP)
	$(BIN)/finedge bench ledger

clean:
	rm -rf $(VENV) var/*.db .pytest_cache .ruff_cache
