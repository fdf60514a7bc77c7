# summarize — developer entry points. `make install` once, then `make run` / `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# torch==2.13.0 resolves to the CPU wheel on this build machine's disk; on a Linux box with
# CUDA, PyPI's torch==2.13.0 is the CUDA build. For a CPU-only laptop without the local wheel:
#   make install TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_SPEC  ?= torch==2.13.0
TORCH_INDEX ?=
CONFIG ?= configs/default.yaml
INPUT  ?= examples/articles
OUT    ?= outputs
PYTEST_ARGS ?= -n 2 --dist loadgroup

.PHONY: install run demo test test-gpu lint bench clean

install: $(BIN)/summarize

$(BIN)/summarize: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || \
	  $(BIN)/pip install "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install -e ".[dev,ray]"
	touch $(BIN)/summarize

run: install
	$(BIN)/summarize run $(INPUT) --config $(CONFIG) --out $(OUT)

demo: install
	HF_HUB_OFFLINE=1 $(BIN)/summarize models tiny $(OUT)/tiny-models
	HF_HUB_OFFLINE=1 $(BIN)/summarize run $(INPUT) --config $(OUT)/tiny-models/config.yaml --out $(OUT)/demo

test: install
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/pytest $(PYTEST_ARGS)

test-gpu: install  # on a CUDA machine: demo, settings matrix and bench smoke on the GPU
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/pytest -p no:xdist -m gpu tests/gpu tests/test_backends.py

lint: install
	$(BIN)/ruff check summarize tests bench
	$(BIN)/mypy

bench: install
	HF_HUB_OFFLINE=1 $(BIN)/python bench/bench.py $(BENCH_ARGS)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/scale.py $(SCALE_ARGS)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/export_scale.py $(EXPORT_SCALE_ARGS)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/ray_scale.py $(RAY_SCALE_ARGS)

clean:
	rm -rf $(OUT)/demo $(OUT)/tiny-models .pytest_cache .ruff_cache .mypy_cache
