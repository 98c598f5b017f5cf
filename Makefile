# `make sweep SPACE=cnn_grid` and `make test` each work as the first command on a fresh clone:
# they create .venv with the pinned dependencies and fetch the data when needed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
SPACE  ?= cnn_grid
PORT   ?= 5000
STORE  ?= $(CURDIR)/mlruns

# A local mirror of the UCI files, when this checkout sits beside one; otherwise `sweeplab data` downloads.
MIRROR := $(wildcard $(abspath ../shared/data/sentiment_labelled_sentences))
ifneq ($(MIRROR),)
export SWEEPLAB_DATA_MIRROR ?= $(MIRROR)
endif
GLOVE_MIRROR := $(wildcard $(abspath ../shared/data/glove))
ifneq ($(GLOVE_MIRROR),)
export SWEEPLAB_GLOVE_MIRROR ?= $(GLOVE_MIRROR)
endif

SWEEP_ARGS := $(foreach s,$(SOURCE),--source $(s)) \
	$(if $(ENGINE),--engine $(ENGINE)) $(if $(TRIALS),--trials $(TRIALS)) \
	$(if $(FOLDS),--folds $(FOLDS)) $(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(SEED),--seed $(SEED)) \
	$(if $(WORKERS),--workers $(WORKERS)) $(if $(STORAGE),--storage $(STORAGE)) $(if $(FRESH),--fresh)

.PHONY: install data sweep leaderboard export retrain predict serve ui dashboard browser test bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

data: install
	$(BIN)/sweeplab data

sweep: install data
	$(BIN)/sweeplab sweep $(SPACE) $(SWEEP_ARGS)

leaderboard: install
	$(BIN)/sweeplab leaderboard $(if $(SWEEP),--sweep $(SWEEP)) $(if $(SOURCE),--source $(SOURCE)) \
		$(if $(TOP),--top $(TOP)) $(if $(FORMAT),--format $(FORMAT))

# The best configuration of SPACE on SOURCE (RANK: another rank) to experiments/<SPACE>-<SOURCE>.yaml.
export: install
	$(BIN)/sweeplab export $(SPACE) --source $(or $(SOURCE),$(error SOURCE=yelp|amazon|imdb is needed)) \
		$(if $(RANK),--rank $(RANK)) $(if $(FAMILY),--family $(FAMILY)) $(if $(OUT),--out $(OUT))

# Train EXPERIMENT into one raw-text model, test it once, log and register it (ALL_DATA=1: train + test).
retrain: install data
	$(BIN)/sweeplab retrain $(or $(EXPERIMENT),$(error EXPERIMENT=experiments/<file>.yaml is needed)) \
		$(if $(ALL_DATA),--all-data) $(if $(PATIENCE),--early-stopping $(PATIENCE))

predict: install
	$(BIN)/sweeplab predict $(or $(MODEL),$(error MODEL=models:/<name>/<version> or a .keras file is needed)) \
		$(if $(FILE),--file $(FILE)) $(TEXT)

# A registered model behind MLflow's scoring server, on loopback only: POST raw text to /invocations.
serve: install
	PATH=$(CURDIR)/$(BIN):$$PATH MLFLOW_TRACKING_URI=$${MLFLOW_TRACKING_URI:-sqlite:///$(STORE)/mlflow.db} \
		$(BIN)/mlflow models serve -m $(or $(MODEL),$(error MODEL=models:/<name>/<version> is needed)) \
		--env-manager local --host 127.0.0.1 --port $(or $(SERVE_PORT),5001)

# The real MLflow UI over the same store, on loopback only.
ui: install
	mkdir -p $(STORE)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(STORE)/mlflow.db \
		--default-artifact-root $(STORE)/artifacts --host 127.0.0.1 --port $(PORT)

# optuna-dashboard over the optuna engine's studies, on loopback only.
dashboard: install
	$(BIN)/optuna-dashboard $(or $(STORAGE),sqlite:///$(STORE)/optuna.db) --host 127.0.0.1 \
		--port $(or $(DASHBOARD_PORT),8080)

# Headless Chromium and its driver from Debian, for the test that looks at the MLflow UI as a person would.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver \
		  >/dev/null; }

test: install data browser
	$(BIN)/python -m pytest -q

# Benchmarks, alone on the machine (about 20 minutes; BENCH=name runs one): each writes bench/results/<name>.json,
# then summary.py rewrites the README's table. Not part of `make test`: timings belong here, not in tests.
BENCHES := overhead scaling leaderboard_scale parallel backends large_data time_to_accuracy

$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	touch $@

bench: $(VENV)/.bench-installed data
	@failed=""; for name in $(or $(BENCH),$(BENCHES)); do echo "== bench/$$name.py"; \
		$(BIN)/python bench/$$name.py || failed="$$failed $$name"; done; \
	$(BIN)/python bench/summary.py; test -z "$$failed" || { echo "failed:$$failed"; exit 1; }

clean:
	rm -rf $(VENV) data build models src/*.egg-info
