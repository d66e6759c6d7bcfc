#!/usr/bin/env bash
# Opt-in stage: the hf backend's tests on the other transformers major. The main environment
# gets transformers 5.x from `pip install -e .[hf,dev]`; this stage installs transformers 4.57.x
# (with the huggingface-hub and tokenizers it needs) into its own venv on top of the main
# environment's packages (torch and the rest are reused) and runs the hf / Hulu-Med /
# conformance tests there. Native VideoLLaMA3 tests skip themselves on 4.x.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${MEDUNIEVAL_TF4_VENV:-.venv-tf4}"
has_tf4() {  # transformers 4.57.x installed in the venv itself, not seen through the base
  "$VENV/bin/python" -c 'import sys, transformers as t; sys.exit(not (
    t.__version__.startswith("4.57.") and t.__file__.startswith(sys.prefix)))' 2>/dev/null
}
if [[ ! -x "$VENV/bin/python" ]] || ! has_tf4; then
  python3 -m venv --system-site-packages "$VENV"
  # --ignore-installed: into the venv even where the main environment already satisfies them;
  # --no-deps: their other dependencies come from the main environment, unchanged
  "$VENV/bin/pip" install -q --ignore-installed --no-deps "transformers>=4.57,<4.58" \
    "huggingface-hub>=0.34,<1" "tokenizers>=0.22,<0.23"
fi
installed=$SECONDS
"$VENV/bin/python" -c "import transformers; print('tf4 stage: transformers', transformers.__version__)"
tests=(tests/test_hf_backend.py tests/test_hf_media.py tests/test_cli_hf.py tests/test_hulumed.py
       tests/test_video_llama3.py)
for f in tests/test_*conformance*.py; do [[ -e "$f" ]] && tests+=("$f"); done
HF_HUB_OFFLINE=1 "$VENV/bin/python" -m pytest -q -p no:cacheprovider "${tests[@]}"
echo "tf4 stage: ${installed}s venv + install, $((SECONDS - installed))s tests"
