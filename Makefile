# Two commands do all the setup on a fresh machine: `make run` and `make test`.
# Both create (or reuse) the virtualenv in .venv with everything pinned in pyproject.toml.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
NATIVE := setup.py container/retailsage/models/_treewalk.c
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml container/requirements.txt $(NATIVE) | sha1sum | cut -c1-12)
EXTRAS := train,serve,infra,local,dev

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20,22
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 20,22,24,26

# The pinned CDK CLI (infra/package-lock.json) for `cdk synth` tests; reinstalled only when the
# lock file changes (npm ci from the npm cache takes a few seconds).
CDK_CLI := infra/node_modules/aws-cdk/package.json

.PHONY: run test lint typecheck venv cdk-cli cdk-synth test-image clean

$(STAMP): pyproject.toml container/requirements.txt $(NATIVE)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -c container/requirements.txt -e ".[$(EXTRAS)]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

$(CDK_CLI): infra/package.json infra/package-lock.json
	npm ci --prefix infra --no-audit --no-fund --loglevel=error
	touch $(CDK_CLI)

cdk-cli: $(CDK_CLI)

## `cdk synth` with the pinned CLI, offline (no notices, telemetry or version check).
## Pass the context: make cdk-synth CONTEXT="-c retailsage:image_uri=... -c retailsage:account=..."
cdk-synth: $(STAMP) $(CDK_CLI)
	cd infra && PATH=$(CURDIR)/$(BIN):$$PATH CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=1 \
		node_modules/.bin/cdk synth --no-notices $(CONTEXT)

## The main job: the deployed state machine, run end to end on this machine (no AWS, no Docker).
run: $(STAMP)
	$(BIN)/retailsage pipeline run $(ARGS)

## The default test run (CI calls this).
test: $(STAMP) $(CDK_CLI)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy container/retailsage lambdas infra
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy container/retailsage lambdas infra

## Builds the image with podman/docker and runs the contract inside it (not in the default run).
test-image: $(STAMP)
	$(BIN)/python -m pytest -m image -p no:xdist tests/image

clean:
	rm -rf $(VENV) build cdk.out infra/node_modules .pytest_cache .mypy_cache .ruff_cache
	find container -name '*.so' -delete
