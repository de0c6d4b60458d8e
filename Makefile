# Two entry points for a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch/torchvision are installed first, pinned, so pip takes the wheels this machine has on disk.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1

.PHONY: setup system-deps demo test bench clean

D2_VENDOR ?= ../shared/vendor/detectron2
D2_WHEEL := $(firstword $(wildcard $(D2_VENDOR)/detectron2-*-cp311-cp311-linux_x86_64.whl))
D2_TORCH ?= 2.14.1
D2_DEPS ?= "setuptools<81" "fvcore>=0.1.5,<0.1.6" "iopath>=0.1.7,<0.1.10" "omegaconf>=2.1,<2.4"

setup: $(VENV)/.installed $(VENV)/.models $(VENV)/.detectron2

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e ".[dev,ray]"
	touch $@

# The release weights (models/garmentparse-models: a separate distribution, found by name).
MODELS_PKG := models/garmentparse-models
$(VENV)/.models: $(VENV)/.installed $(wildcard $(MODELS_PKG)/garmentparse_models/*)
	$(BIN)/python -m pip install -q --force-reinstall --no-deps ./$(MODELS_PKG)
	touch $@

# detectron2 (optional backend): the vendored wheel when it is there and matches this venv's
# Python and torch; else the detectron2 backend tests skip with their reason. Users install
# detectron2 from its repository (see README).
$(VENV)/.detectron2: $(VENV)/.installed
	@if [ -z "$(D2_WHEEL)" ]; then \
	  echo "detectron2: no wheel in $(D2_VENDOR); the detectron2 backend tests will skip"; \
	elif ! $(BIN)/python -c 'import sys, torch; sys.exit(not (sys.version_info[:2] == (3, 11) and torch.__version__.split("+")[0] == "$(D2_TORCH)"))'; then \
	  echo "detectron2: $(notdir $(D2_WHEEL)) needs CPython 3.11 + torch $(D2_TORCH); not installed, its tests will skip"; \
	elif $(BIN)/python -m pip install -q $(D2_DEPS) && \
	  $(BIN)/python -m pip install -q --no-deps "$(D2_WHEEL)" && \
	  $(BIN)/python -c "from detectron2 import model_zoo"; then \
	  echo "detectron2: installed $(notdir $(D2_WHEEL))"; \
	else \
	  echo "detectron2: installing $(notdir $(D2_WHEEL)) failed (see above); its tests will skip, the next make retries"; \
	  exit 0; \
	fi; \
	touch $@

demo: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

# Chromium + fonts-nanum (browser tests) and MariaDB (store tests), via apt when root; never fails.
system-deps:
	bash scripts/system_deps.sh

test: setup system-deps
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) demo-out
