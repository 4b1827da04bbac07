"""Build a tiny random-weight model (Qwen2, Qwen2-VL/-Audio, Whisper, XLM-R) for vLLM on a CPU.

Why: the CPU profile runs the real vLLM serving path (spawn, /health, OpenAI routes, SIGTERM) with
no GPU, network or model hub. Weights are random from --seed, so the output is gibberish by
design: the serving machinery is what runs. The tokenizer is a byte-level BPE trained here on
CPython's stdlib sources (always on disk), with ChatML special tokens and chat template so
/v1/chat/completions works.

Each kind in its own module beside this one: qwen2 (text.py), qwen2-vl (vl.py: image and video
chat), whisper and qwen2-audio (speech.py: transcriptions, chat with audio parts), xlm-roberta
and xlm-roberta-rerank (xlmr.py: embeddings, rerank and score); tokenizer.py and saving.py hold
what they share.

Run by the engine venv's python (torch, transformers, tokenizers), with this package's parent on
sys.path (catalog.build does that); the project never imports it:
    python -m tinymodels.build --out DIR --seed N [--kind qwen2|qwen2-vl|whisper|...]
It builds in DIR.tmp-<pid>, stamps it with the kind's recipe (recipes.py) and renames it to DIR
when complete, so a killed build never leaves a half model that looks finished. If DIR holds a
model of this kind, seed and recipe it prints "exists" and exits 0; if DIR holds a stale one (an
older recipe), the new build replaces it: old DIR renamed aside, new one renamed in, old removed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import glob
import os
import shutil
import sys
from collections.abc import Callable

from tinymodels.dims import Dims
from tinymodels.recipes import is_current, write_stamp
from tinymodels.speech import build_audio, build_whisper
from tinymodels.text import build_text
from tinymodels.vl import build_vl
from tinymodels.xlmr import build_xlmr_embed, build_xlmr_rerank

Builder = Callable[[Dims, int, str], None]  # (dims, seed, folder)

BUILDERS: dict[str, Builder] = {
    "qwen2": build_text,
    "qwen2-vl": build_vl,
    "whisper": build_whisper,
    "qwen2-audio": build_audio,
    "xlm-roberta": build_xlmr_embed,
    "xlm-roberta-rerank": build_xlmr_rerank,
}
DEFAULT_DIMS = {
    "qwen2": Dims(hidden=128, layers=2, heads=4, kv_heads=2, vocab=2048),
    "qwen2-vl": Dims(hidden=128, layers=2, heads=2, kv_heads=1, vocab=2048),
    # d_model 128 with 2 heads: head_dim 64 for vLLM's CPU attention; kv_heads is unused.
    "whisper": Dims(hidden=128, layers=2, heads=2, kv_heads=2, vocab=2048),
    "qwen2-audio": Dims(hidden=128, layers=2, heads=2, kv_heads=1, vocab=2048),
    # head_dim 32; kv_heads is unused (no grouped-query attention in an encoder).
    "xlm-roberta": Dims(hidden=64, layers=2, heads=2, kv_heads=2, vocab=2048),
    "xlm-roberta-rerank": Dims(hidden=64, layers=2, heads=2, kv_heads=2, vocab=2048),
}


def remove_stale_tmp(out: str) -> None:
    """Drop DIR.tmp-<pid> and DIR.old-<pid> folders left by builds that were killed (their pid is
    gone).
    """
    for pattern in (".tmp-*", ".old-*"):
        for tmp in glob.glob(glob.escape(out) + pattern):
            pid = tmp.rsplit("-", 1)[1]
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                shutil.rmtree(tmp, ignore_errors=True)


def parse(argv: list[str] | None) -> tuple[str, Dims, int, str]:
    """(kind, dims, seed, out) from the flags; unset dims take the kind's defaults."""
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--kind", choices=sorted(BUILDERS), default="qwen2")
    # Unset dims take the kind's defaults: the VL text tower needs head_dim 64 for its mrope.
    for flag in ("--hidden", "--layers", "--heads", "--kv-heads", "--vocab"):
        p.add_argument(flag, type=int)
    args = p.parse_args(argv)
    kind: str = args.kind
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Dims)}
    dims = dataclasses.replace(
        DEFAULT_DIMS[kind], **{k: v for k, v in given.items() if v is not None}
    )
    return kind, dims, args.seed, os.path.abspath(args.out)


def main(argv: list[str] | None = None) -> int:
    kind, dims, seed, out = parse(argv)
    if is_current(out, kind, seed):
        print("exists")
        return 0
    if os.path.exists(out) and not os.path.isfile(os.path.join(out, "config.json")):
        print(f"error: {out} exists but holds no config.json; remove it first", file=sys.stderr)
        return 2
    remove_stale_tmp(out)
    tmp = f"{out}.tmp-{os.getpid()}"
    try:
        os.makedirs(tmp)
        BUILDERS[kind](dims, seed, tmp)
        write_stamp(tmp, kind, seed)
        if not install(tmp, out, kind, seed):
            print("exists")
            return 0
    except Exception as e:
        print(f"error: building {out} failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(out)
    return 0


def install(tmp: str, out: str, kind: str, seed: int) -> bool:
    """Put the finished build `tmp` at `out`, replacing a stale model there; False if a concurrent
    build already put a current one there.

    Two renames rather than one: rename(2) replaces only an empty folder. Between them `out` is
    missing for a moment (a server started in that instant fails to start); a server already
    running from the old folder has loaded it and is unaffected.
    """
    old = f"{out}.old-{os.getpid()}"
    # FileNotFoundError: a first build, or a concurrent build moved it aside already
    with contextlib.suppress(FileNotFoundError):
        os.rename(out, old)
    try:
        os.rename(tmp, out)
    except OSError:
        if is_current(out, kind, seed):  # a concurrent build won
            return False
        if not os.path.exists(out) and os.path.exists(old):
            os.rename(old, out)  # leave the stale model rather than none
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)
    return True


if __name__ == "__main__":
    sys.exit(main())
