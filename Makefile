# `make sweep SPACE=cnn_grid` and `make test` each work as the first command on a fresh clone:
# they create .venv with the pinned dependencies and fetch the data when needed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
SPACE  ?= cnn_grid
PORT   ?= 5000
STORE  ?= $(CURDIR)/mlruns
# Servers listen on loopback unless HOST names another address (they warn when it is not loopback).
HOST   ?= 127.0.0.1
SERVER_PORT ?= 5050
PG_URL = $(shell scripts/postgres.sh url $(1))
LOOPBACK_WARNING = $(if $(filter-out 127.0.0.1 localhost ::1,$(HOST)),\
	@echo "warning: HOST=$(HOST) is not loopback: anyone who can reach this machine can read and write the runs" >&2)

# A local mirror of the UCI files, when this checkout sits beside one; otherwise `sweeplab data` downloads.
MIRROR := $(wildcard $(abspath ../shared/data/sentiment_labelled_sentences))
ifneq ($(MIRROR),)
export SWEEPLAB_DATA_MIRROR ?= $(MIRROR)
endif
GLOVE_MIRROR := $(wildcard $(abspath ../shared/data/glove))
ifneq ($(GLOVE_MIRROR),)
export SWEEPLAB_GLOVE_MIRROR ?= $(GLOVE_MIRROR)
endif

SWEEP_ARGS := $(foreach s,$(SOURCE),--source $(s)) $(if $(TRACKING_URI),--tracking-uri $(TRACKING_URI)) \
	$(if $(ENGINE),--engine $(ENGINE)) $(if $(TRIALS),--trials $(TRIALS)) \
	$(if $(FOLDS),--folds $(FOLDS)) $(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(SEED),--seed $(SEED)) \
	$(if $(NESTED),--nested $(NESTED)) \
	$(if $(WORKERS),--workers $(WORKERS)) $(if $(STORAGE),--storage $(STORAGE)) $(if $(FRESH),--fresh) $(if $(DRY_RUN),--dry-run)

.PHONY: install data sweep worker leaderboard report compare export retrain predict serve ui dashboard postgres postgres-stop \
	server browser test bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

data: install
	$(BIN)/sweeplab data

sweep: install data
	$(BIN)/sweeplab sweep $(SPACE) $(SWEEP_ARGS)

# Another process or machine joins a running sweep's queue, whatever its engine: make worker SPACE=… STORAGE=…
# TRACKING_URI=… (on one machine, `make sweep SPACE=cnn_grid WORKERS=2` starts the second process itself).
worker: install data
	$(BIN)/sweeplab worker $(SPACE) --storage $(or $(STORAGE),$(error STORAGE=the sweep's Optuna storage is needed)) \
		$(if $(TRACKING_URI),--tracking-uri $(TRACKING_URI)) $(if $(WORKERS),--workers $(WORKERS)) \
		$(if $(WORKER_INDEX),--worker-index $(WORKER_INDEX))

leaderboard: install
	$(BIN)/sweeplab leaderboard $(if $(SWEEP),--sweep $(SWEEP)) $(if $(SOURCE),--source $(SOURCE)) \
		$(if $(TOP),--top $(TOP)) $(if $(FORMAT),--format $(FORMAT))

# SPACE's report: one HTML page that opens offline, and a markdown summary (a sweep writes it at its end too).
report: install
	$(BIN)/sweeplab report $(SPACE) $(if $(OUT),--out $(OUT))

# SPACE's configurations across the datasets it ran on: ranks, Friedman, critical difference, transfer matrix.
compare: install
	$(BIN)/sweeplab compare $(SPACE) $(if $(FORMAT),--format $(FORMAT)) $(if $(ALPHA),--alpha $(ALPHA))

# The winning configuration of SPACE on SOURCE (RANK: another rank; SELECT: best|simplest) to
# experiments/<SPACE>-<SOURCE>.yaml.
export: install
	$(BIN)/sweeplab export $(SPACE) --source $(or $(SOURCE),$(error SOURCE=yelp|amazon|imdb is needed)) \
		$(if $(RANK),--rank $(RANK)) $(if $(SELECT),--select $(SELECT)) $(if $(FAMILY),--family $(FAMILY)) \
		$(if $(OUT),--out $(OUT))

# Train EXPERIMENT into one raw-text model, test it once, log and register it (ALL_DATA=1: train + test).
retrain: install data
	$(BIN)/sweeplab retrain $(or $(EXPERIMENT),$(error EXPERIMENT=experiments/<file>.yaml is needed)) \
		$(if $(ALL_DATA),--all-data) $(if $(PATIENCE),--early-stopping $(PATIENCE))

predict: install
	$(BIN)/sweeplab predict $(or $(MODEL),$(error MODEL=models:/<name>/<version> or a .keras file is needed)) \
		$(if $(FILE),--file $(FILE)) $(TEXT)

# A registered model behind MLflow's scoring server with sweeplab's bounds on requests (sweeplab serve), on loopback
# unless HOST says otherwise: POST raw text to /invocations.
serve: install
	MLFLOW_TRACKING_URI=$${MLFLOW_TRACKING_URI:-sqlite:///$(STORE)/mlflow.db} \
		$(BIN)/sweeplab serve $(or $(MODEL),$(error MODEL=models:/<name>/<version> is needed)) \
		--host $(HOST) --port $(or $(SERVE_PORT),5001)

# The real MLflow UI over the same store, on loopback unless HOST says otherwise.
ui: install
	$(LOOPBACK_WARNING)
	$(BIN)/sweeplab store --tracking-uri sqlite:///$(STORE)/mlflow.db  # created once, under the lock sweeps take
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(STORE)/mlflow.db \
		--default-artifact-root $(STORE)/artifacts --host $(HOST) --port $(PORT)

# A throwaway PostgreSQL cluster from Debian's packages (installed when missing) on PG_HOST:PG_PORT
# (127.0.0.1:5433), with databases `optuna` and `mlflow`; postgres-stop ends it and deletes its data.
postgres:
	@scripts/postgres.sh start

postgres-stop:
	@scripts/postgres.sh stop

# An MLflow tracking server for sweeps on several machines: runs in PostgreSQL, artifacts under
# $(STORE)/server-artifacts, served through the server. Sweeps and workers pass --tracking-uri http://HOST:SERVER_PORT.
server: install postgres
	$(LOOPBACK_WARNING)
	$(BIN)/mlflow server --backend-store-uri $(call PG_URL,mlflow) \
		--artifacts-destination $(STORE)/server-artifacts --host $(HOST) --port $(SERVER_PORT) --workers 1 \
		$(if $(ALLOWED_HOSTS),--allowed-hosts $(ALLOWED_HOSTS))

# optuna-dashboard over the optuna engine's studies, on loopback unless HOST says otherwise.
dashboard: install
	$(LOOPBACK_WARNING)
	$(BIN)/optuna-dashboard $(or $(STORAGE),sqlite:///$(STORE)/optuna.db) --host $(HOST) \
		--port $(or $(DASHBOARD_PORT),8080)

# Headless Chromium and its driver from Debian, for the test that looks at the MLflow UI as a person would.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver \
		  >/dev/null; }

# Two processes, each taking whole files (module fixtures such as the PostgreSQL cluster start once): most tests
# wait on subprocesses, servers and TensorFlow's import: 509 tests in 13.5 min against 22 min in one (2 cores).
# TEST_PROCESSES=0 runs it in this process alone.
TEST_PROCESSES ?= 2
test: install data browser
	$(BIN)/python -m pytest -q -n $(TEST_PROCESSES) --dist loadfile

# Benchmarks, alone on the machine (over an hour; BENCH=name runs one): each writes bench/results/<name>.json,
# then summary.py rewrites the README's table. Not part of `make test`: timings belong here, not in tests.
BENCHES := cnn_grid levers bombs overhead scaling leaderboard_scale parallel workers fused backends large_data \
	time_to_accuracy

$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	touch $@

bench: $(VENV)/.bench-installed data
	@failed=""; for name in $(or $(BENCH),$(BENCHES)); do echo "== bench/$$name.py"; \
		$(BIN)/python bench/$$name.py || failed="$$failed $$name"; done; \
	$(BIN)/python bench/summary.py; test -z "$$failed" || { echo "failed:$$failed"; exit 1; }

clean:
	rm -rf $(VENV) data build models src/*.egg-info
