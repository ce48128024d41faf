# Two commands on a fresh machine: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export CVOPS_DATASETS ?= $(abspath ../shared/datasets)

.PHONY: install engines test container-test demo serve bench soak schema lint-workflows clean

$(STAMP): pyproject.toml constraints.txt
	@# A venv left half-made by an interrupted install (no pip) is made again, not reused.
	@$(BIN)/python -m pip --version >/dev/null 2>&1 || $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,exports]"
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project with pinned versions

engines: install  ## install the pinned Azurite and TensorFlow.js into .engines/ with npm (needs Node.js 20+ and npm)
	$(BIN)/python -c "from harness.azurite import ensure_installed; print('azurite:', ensure_installed())"
	$(BIN)/python -c "from harness.tfjs import ensure_installed; print('tfjs:', ensure_installed())"

# Test modules run side by side in TEST_WORKERS processes (pytest-xdist; tests/conftest.py says how they are
# grouped); TEST_WORKERS=0 runs them one after another in this process.
TEST_WORKERS ?= 3
test: install  ## run the whole test suite
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

container-test: install  ## build the Dockerfile with podman (base from debootstrap) and run it through the SDK walkthrough
	$(BIN)/python -m pytest -m container tests/integration/test_container_image.py

demo: install  ## self-hosted service + pipeline + classify, end to end, offline
	$(BIN)/python -m demo

serve: install  ## start the self-hosted Custom Vision service on 127.0.0.1:8400
	$(BIN)/cvlocal serve

bench: install  ## run the benchmarks and rewrite docs/benchmarks.md
	$(BIN)/python -m bench

schema: install  ## regenerate config/schema.json from the pipeline's config model
	$(BIN)/python -m pipeline.config.schema > config/schema.json

lint-workflows: install  ## GitHub workflow schema + zizmor (offline), as make test does
	$(BIN)/python -m pytest -q tests/infra/test_workflows.py

soak: install  ## 32 clients for 60 s against a fresh service; figures in docs/reliability.md
	$(BIN)/python -m bench.soak --seconds 60 --clients 32

clean:
	rm -rf $(VENV) .cvlocal .demo out *.egg-info
