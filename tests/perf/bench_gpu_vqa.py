"""GPU generation speed (not a test; needs a CUDA GPU for real figures).

The workload of issue 6's anchor: a Qwen2.5-VL-7B-architecture model with random weights in
bf16, 64 VQA requests with one 448x448 image each (~300 prompt tokens: 256 image tokens plus
the question), exactly 32 new tokens (EOS suppressed, so every configuration does the same
work). Printed side by side, samples/s and the ratio to the per-sample loop:

1. ``loop``: one ``model.generate`` per sample (how MedUniEval runs);
2. ``backend``: our HF backend with its default settings (length-sorted, left-padded batches,
   ``--batch-size auto`` starting at 64);
3. variants of the backend: ``eager`` attention instead of SDPA, ``flash_attention_2`` when the
   package is installed, and a static KV cache with ``torch.compile``.

    python tests/perf/bench_gpu_vqa.py                # on a GPU machine
    python tests/perf/bench_gpu_vqa.py --tiny --n 8   # smoke run on the CPU (tiny config)

``--arch videollama3`` (transformers >= 5) times the Hulu-Med-style path instead: the native
VideoLLaMA3 architecture Hulu-Med derives from, at Hulu-Med-7B sizes (random weights; ``--mid``:
a ~30M-parameter CPU variant, ``--tiny``), through the ``video_llama3`` adapter: ``loop`` is one
``generate`` per request (MedUniEval's Hulu-Med path), ``backend`` embeds each request on its
own and decodes left-padded batches of ``inputs_embeds``.

Every configuration must generate exactly n x new-tokens tokens with no failed request;
otherwise it prints REFUSED with the reason instead of a figure, and the script exits 1.

The model is built offline from the published Qwen2.5-VL-7B-Instruct config values with random
weights and saved once under --workdir; the tokenizer is medunieval's offline byte-level Qwen
tokenizer (its special-token ids are written into the config), so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

QWEN25_VL_7B_TEXT = {  # Qwen/Qwen2.5-VL-7B-Instruct config.json
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "max_position_embeddings": 128000,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-06,
    "vocab_size": 152064,
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
}
QWEN25_VL_7B_VISION = {
    "depth": 32,
    "hidden_size": 1280,
    "intermediate_size": 3420,
    "num_heads": 16,
    "out_hidden_size": 3584,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31],
    "in_chans": 3,
}
TINY_TEXT = {**QWEN25_VL_7B_TEXT, "hidden_size": 64, "intermediate_size": 128,
             "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
             "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]}}  # fmt: skip
TINY_VISION = {**QWEN25_VL_7B_VISION, "depth": 2, "hidden_size": 32, "intermediate_size": 64,
               "num_heads": 2, "out_hidden_size": 64, "fullatt_block_indexes": [1]}  # fmt: skip
BUILD_VERSION = "3"  # bump when a builder changes: older builds under --workdir are redone
QUESTION = "Is there evidence of a pneumothorax in this chest radiograph? Answer briefly."


def build_model(out: Path, tiny: bool, device: str) -> Path:
    """Random-weight Qwen2.5-VL (7B architecture, or tiny) + an offline processor in ``out``."""
    if (out / "done").is_file() and (out / "done").read_text() == BUILD_VERSION:
        return out
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
    )

    from medunieval.backends.hf import processor_without_video
    from medunieval.tiny_models import QWEN2_VL_CHAT_TEMPLATE, _qwen_tokenizer, _special_id

    text = TINY_TEXT if tiny else QWEN25_VL_7B_TEXT
    ids = {
        "image_token_id": _special_id("<|image_pad|>"),
        "video_token_id": _special_id("<|video_pad|>"),
        "vision_start_token_id": _special_id("<|vision_start|>"),
        "vision_end_token_id": _special_id("<|vision_end|>"),
        "eos_token_id": _special_id("<|im_end|>"),
        "pad_token_id": _special_id("<|endoftext|>"),
    }
    config = Qwen2_5_VLConfig(
        text_config={**text, **ids},
        vision_config=TINY_VISION if tiny else QWEN25_VL_7B_VISION,
        vocab_size=text["vocab_size"],
        **ids,
    )
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration(config).to(dtype).eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    del model
    # transformers 4.57 drops the top-level token ids from the saved config (they reload as
    # the 151655... defaults, so no image token matched and every request failed): write them
    cfg_file = out / "config.json"
    saved = json.loads(cfg_file.read_text())
    saved.update(ids)
    cfg_file.write_text(json.dumps(saved, indent=2))
    pixels = {"min_pixels": 448 * 448, "max_pixels": 448 * 448}
    processor = processor_without_video(Qwen2VLProcessor)(
        image_processor=Qwen2VLImageProcessor(**pixels),
        tokenizer=_qwen_tokenizer(QWEN2_VL_CHAT_TEMPLATE),
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )
    processor.save_pretrained(out)
    (out / "done").write_text(BUILD_VERSION)
    return out


def requests(n: int, new_tokens: int) -> list:
    """``n`` distinct 448x448 VQA requests."""
    import numpy as np
    from PIL import Image

    from medunieval.types import (
        GenParams,
        ImagePart,
        MediaRef,
        Message,
        Request,
        TextPart,
        sha256_hex,
    )

    out = []
    rng = np.random.default_rng(0)
    for i in range(n):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (448, 448, 3), dtype=np.uint8)).save(buf, "PNG")
        data = buf.getvalue()
        ref = MediaRef("image", f"synthetic-{i}.png", lambda d=data: d)
        parts = (ImagePart(ref, sha256_hex(data)), TextPart(f"[{i}] {QUESTION}"))
        out.append(Request(str(i), "perf", (Message("user", parts),),
                           GenParams(max_new_tokens=new_tokens)))  # fmt: skip
    return out


def build_videollama3(out: Path, size: str, device: str) -> Path:
    """Random-weight native VideoLLaMA3 (Hulu-Med-7B sizes, mid or tiny) in ``out``."""
    import torch

    from medunieval.tiny_video_llama3 import (
        HULUMED_7B_SIZES,
        MID_SIZES,
        build_tiny_video_llama3,
    )

    sizes = {"full": HULUMED_7B_SIZES, "mid": MID_SIZES, "tiny": None}[size]
    pixels = {"full": 448 * 448, "mid": 112 * 112, "tiny": 56 * 56}[size]
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    return build_tiny_video_llama3(out, sizes=sizes, max_pixels=pixels, device=device,
                                   dtype=dtype)  # fmt: skip


def backend(model: Path, device: str, adapter: str = "vlm", **options):
    from medunieval.backends.hf import HFBackend
    from medunieval.presets import ModelPreset

    dtype = "float32" if device == "cpu" else "bfloat16"
    preset = ModelPreset(name="perf", model=str(model), adapter=adapter, dtype=dtype,
                         options=options)  # fmt: skip
    return HFBackend.from_preset(preset, device=device)


def check(label: str, responses: list, n: int, new_tokens: int) -> str | None:
    """Why ``label``'s figure must not be printed (None: it did the stated work)."""
    errors = [r.error for r in responses if r.error]
    tokens = sum(r.completion_tokens or 0 for r in responses)
    if len(responses) != n or errors or tokens != n * new_tokens:
        first = f"; first error: {errors[0]}" if errors else ""
        return (f"{label}: {len(responses)} responses, {len(errors)} failed, {tokens} new tokens "
                f"instead of {n} x {new_tokens} = {n * new_tokens}{first}")  # fmt: skip
    return None


def timed(fn) -> tuple[float, list]:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    responses = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - t, responses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--arch", choices=("qwen25vl", "videollama3"), default="qwen25vl")
    ap.add_argument("--tiny", action="store_true", help="tiny config (CPU smoke run)")
    ap.add_argument("--mid", action="store_true", help="mid-size config (videollama3, CPU)")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "mue-gpu-perf")
    ap.add_argument("--skip", default="", help="comma-separated configurations to skip")
    args = ap.parse_args()
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    size = "tiny" if args.tiny else "mid" if args.mid else "full"
    if args.arch == "videollama3":
        model_dir = build_videollama3(args.workdir / f"videollama3-{size}", size, device)
        adapter = "video_llama3"
    else:
        model_dir = build_model(args.workdir / ("tiny" if args.tiny else "qwen25vl7b"),
                                args.tiny, device)  # fmt: skip
        adapter = "vlm"
    reqs = requests(args.n, args.new_tokens)
    # exactly `new_tokens` new tokens: EOS (and the pad token, which random weights may favour
    # and which the backend strips) suppressed for every configuration
    from medunieval.tiny_models import _special_id

    fixed = {"min_new_tokens": args.new_tokens, "suppress_tokens": [_special_id("<|endoftext|>")]}
    results: list[tuple[str, float, int]] = []
    refused: list[str] = []
    skip = set(args.skip.split(","))

    def record(label: str, elapsed: float, responses: list) -> None:
        why = check(label, responses, args.n, args.new_tokens)
        if why:
            refused.append(why)
        else:
            results.append((label, elapsed, sum(r.completion_tokens for r in responses)))

    def run_backend(label: str, **options) -> None:
        if label in skip:
            return
        options.setdefault("generate_kwargs", fixed)
        b = backend(model_dir, device, adapter, **options)
        list(b.generate(reqs[:2]))  # warm-up (and compilation for the compiled variant)
        elapsed, responses = timed(lambda: [r for _, r in b.generate(reqs)])
        record(label, elapsed, responses)
        b.close()
        if device == "cuda":
            torch.cuda.empty_cache()

    if "loop" not in skip:
        b = backend(model_dir, device, adapter, generate_kwargs=fixed, batch_size=1)
        b.batch_size = 1
        list(b.generate(reqs[:1]))
        elapsed, responses = timed(lambda: [r for req in reqs for _, r in b.generate([req])])
        record("loop", elapsed, responses)
        b.close()
    run_backend("backend", attn_implementation="sdpa")
    if args.arch == "qwen25vl":
        run_backend("eager", attn_implementation="eager")
        if importlib.util.find_spec("flash_attn") and device == "cuda":
            run_backend("flash_attention_2", attn_implementation="flash_attention_2")
        run_backend("static+compile", attn_implementation="sdpa", torch_compile=True,
                    generate_kwargs={**fixed, "cache_implementation": "static"})  # fmt: skip

    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    params = _count_params(model_dir)
    print(json.dumps({"device": name, "arch": args.arch, "size": size, "params": params,
                      "n": args.n, "new_tokens": args.new_tokens, "torch": torch.__version__,
                      "transformers": _tf_version()}))  # fmt: skip
    base = next((args.n / e for label, e, _ in results if label == "loop"), None)
    print(f"{'configuration':18} {'seconds':>8} {'samples/s':>10} {'new tokens':>10} "
          f"{'x loop':>7}")  # fmt: skip
    for label, elapsed, tokens in results:
        rate = args.n / elapsed
        ratio = f"{rate / base:7.1f}" if base else "      -"
        print(f"{label:18} {elapsed:8.2f} {rate:10.2f} {tokens:10d} {ratio}")
    for why in refused:
        print(f"REFUSED {why}")
    if refused:
        sys.exit(1)


def _count_params(model_dir: Path) -> int | None:
    """Parameters in the saved weights (safetensors headers; no weights loaded)."""
    total = 0
    for f in model_dir.glob("*.safetensors"):
        with f.open("rb") as fh:
            size = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(size))
        for key, meta in header.items():
            if key != "__metadata__":
                count = 1
                for dim in meta["shape"]:
                    count *= dim
                total += count
    return total or None


def _tf_version() -> str:
    import transformers

    return transformers.__version__


if __name__ == "__main__":
    main()
