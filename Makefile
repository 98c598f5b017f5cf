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

SWEEP_ARGS := $(foreach s,$(SOURCE),--source $(s)) \
	$(if $(ENGINE),--engine $(ENGINE)) $(if $(TRIALS),--trials $(TRIALS)) \
	$(if $(FOLDS),--folds $(FOLDS)) $(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(SEED),--seed $(SEED)) \
	$(if $(WORKERS),--workers $(WORKERS)) $(if $(STORAGE),--storage $(STORAGE)) $(if $(FRESH),--fresh)

.PHONY: install data sweep leaderboard ui dashboard test clean

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

# The real MLflow UI over the same store, on loopback only.
ui: install
	mkdir -p $(STORE)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(STORE)/mlflow.db \
		--default-artifact-root $(STORE)/artifacts --host 127.0.0.1 --port $(PORT)

# optuna-dashboard over the optuna engine's studies, on loopback only.
dashboard: install
	$(BIN)/optuna-dashboard $(or $(STORAGE),sqlite:///$(STORE)/optuna.db) --host 127.0.0.1 \
		--port $(or $(DASHBOARD_PORT),8080)

test: install data
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) data build src/*.egg-info
