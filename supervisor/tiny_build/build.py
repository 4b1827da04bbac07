"""Build a tiny random-weight Qwen2 (VL, Audio) or Whisper model that real vLLM serves on a CPU.

Why: the CPU profile runs the real vLLM serving path (spawn, /health, OpenAI routes, SIGTERM) with
no GPU, network or model hub. A Qwen2ForCausalLM with hidden 128, 2 layers, 4 heads (head_dim 32,
which vLLM's CPU attention accepts) weighs ~1 MB and loads in well under a second. Weights are
random from --seed, so the output is gibberish by design: the serving machinery is what runs.
The tokenizer is a byte-level BPE trained here on CPython's stdlib sources (always on disk), with
ChatML special tokens and chat template so /v1/chat/completions works.

Other kinds, each in its own module beside this script: qwen2-vl (vl.py: image and video
chat), whisper and qwen2-audio (speech.py: transcriptions, chat with audio parts); common.py
holds the tokenizer and saving they share.

Run by the engine venv's python (torch, transformers, tokenizers); the project never imports it:
    python supervisor/tiny_build/build.py --out DIR --seed N [--kind qwen2|qwen2-vl|whisper|...]
It builds in DIR.tmp-<pid> and renames to DIR when complete, so a killed build never leaves a
half model that looks finished. If DIR/config.json exists it prints "exists" and exits 0.
"""

import argparse
import glob
import os
import shutil
import sys

from common import CHAT_TEMPLATE, build_tokenizer, check_dims, save, text_dims
from speech import build_audio, build_whisper
from vl import build_vl


def build_text(args, path):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    check_dims(args)
    tokenizer = build_tokenizer(args.vocab)
    config = Qwen2Config(**text_dims(args, tokenizer), tie_word_embeddings=True)
    torch.manual_seed(args.seed)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16).eval()
    save(model, tokenizer, path, CHAT_TEMPLATE)


BUILDERS = {
    "qwen2": build_text,
    "qwen2-vl": build_vl,
    "whisper": build_whisper,
    "qwen2-audio": build_audio,
}
DEFAULT_DIMS = {
    "qwen2": {"hidden": 128, "layers": 2, "heads": 4, "kv_heads": 2, "vocab": 2048},
    "qwen2-vl": {"hidden": 128, "layers": 2, "heads": 2, "kv_heads": 1, "vocab": 2048},
    # d_model 128 with 2 heads: head_dim 64 for vLLM's CPU attention; kv_heads is unused.
    "whisper": {"hidden": 128, "layers": 2, "heads": 2, "kv_heads": 2, "vocab": 2048},
    "qwen2-audio": {"hidden": 128, "layers": 2, "heads": 2, "kv_heads": 1, "vocab": 2048},
}


def remove_stale_tmp(out):
    """Drop DIR.tmp-<pid> folders left by builds that were killed (their pid is gone)."""
    for tmp in glob.glob(glob.escape(out) + ".tmp-*"):
        pid = tmp.rsplit("-", 1)[1]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--kind", choices=sorted(BUILDERS), default="qwen2")
    # Unset dims take the kind's defaults: the VL text tower needs head_dim 64 for its mrope.
    for flag in ("--hidden", "--layers", "--heads", "--kv-heads", "--vocab"):
        p.add_argument(flag, type=int)
    args = p.parse_args(argv)
    for key, value in DEFAULT_DIMS[args.kind].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    out = os.path.abspath(args.out)
    if os.path.isfile(os.path.join(out, "config.json")):
        print("exists")
        return 0
    if os.path.exists(out):
        print(f"error: {out} exists but holds no config.json; remove it first", file=sys.stderr)
        return 2
    remove_stale_tmp(out)
    tmp = f"{out}.tmp-{os.getpid()}"
    try:
        os.makedirs(tmp)
        BUILDERS[args.kind](args, tmp)
        try:
            os.replace(tmp, out)
        except OSError:
            if os.path.isfile(os.path.join(out, "config.json")):  # a concurrent build won
                print("exists")
                return 0
            raise
    except Exception as e:
        print(f"error: building {out} failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
