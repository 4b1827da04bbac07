"""Build a tiny random-weight Qwen2 chat model that real vLLM can serve on a 2-core CPU box.

Why: the CPU profile runs the real vLLM serving path (spawn, /health, OpenAI routes, SIGTERM) with
no GPU, network or model hub. A Qwen2ForCausalLM with hidden 128, 2 layers, 4 heads (head_dim 32,
which vLLM's CPU attention accepts) weighs ~1 MB and loads in well under a second. Weights are
random from --seed, so the output is gibberish by design: the serving machinery is what runs.
The tokenizer is a byte-level BPE trained here on CPython's stdlib sources (always on disk), with
ChatML special tokens and chat template so /v1/chat/completions works.

Run by the engine venv's python (torch, transformers, tokenizers); the project never imports it:
    python tiny_model_build.py --out DIR --seed N [--hidden 128 --layers 2 --heads 4 ...]
It builds in DIR.tmp-<pid> and renames to DIR when complete, so a killed build never leaves a
half model that looks finished. If DIR/config.json exists it prints "exists" and exits 0.
"""

import argparse
import glob
import json
import os
import shutil
import sys
import sysconfig

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# Split text the way transformers' Qwen2Tokenizer does (AutoTokenizer, hence vLLM, applies it to
# any qwen2 model), so the merges are trained on the same pieces they are served with.
PRETOKENIZE = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
CORPUS_BYTES = 1_500_000  # enough text for a 2k vocab; trains in a few seconds


def corpus():
    """A deterministic slice of CPython's stdlib sources: sorted top-level .py files."""
    stdlib = sysconfig.get_paths()["stdlib"]
    names = sorted(n for n in os.listdir(stdlib) if n.endswith(".py"))
    if not names:
        raise RuntimeError(f"no .py files in stdlib dir {stdlib}")
    total = 0
    for name in names:
        with open(os.path.join(stdlib, name), encoding="utf-8", errors="replace") as f:
            text = f.read()
        yield text
        total += len(text)
        if total >= CORPUS_BYTES:
            return


def build_tokenizer(vocab_size):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    split = pre_tokenizers.Split(Regex(PRETOKENIZE), behavior="isolated")
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.pre_tokenizer = pre_tokenizers.Sequence([split, byte_level])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )  # fmt: skip
    tok.train_from_iterator(corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE, model_max_length=2048, clean_up_tokenization_spaces=False,
    )  # fmt: skip


def build(args, path):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    if args.hidden % args.heads or args.heads % args.kv_heads:
        raise ValueError("--hidden must divide by --heads, and --heads by --kv-heads")
    tokenizer = build_tokenizer(args.vocab)
    eot, im_end = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_end|>"])
    config = Qwen2Config(
        vocab_size=len(tokenizer),  # exactly the tokenizer: no id the model samples is unknown
        hidden_size=args.hidden, intermediate_size=2 * args.hidden,
        num_hidden_layers=args.layers, num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads, max_position_embeddings=2048,
        tie_word_embeddings=True, bos_token_id=eot, eos_token_id=im_end, pad_token_id=eot,
    )  # fmt: skip
    torch.manual_seed(args.seed)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16).eval()
    model.config.dtype = torch.bfloat16
    model.save_pretrained(path)  # safetensors is the default format
    tokenizer.save_pretrained(path)
    # transformers 5 names the class TokenizersBackend and puts the template in its own file;
    # name the portable class and inline the template too, so older loaders read it as well.
    with open(os.path.join(path, "tokenizer_config.json")) as f:
        tc = json.load(f)
    tc.update(tokenizer_class="PreTrainedTokenizerFast", chat_template=CHAT_TEMPLATE)
    gen = {"bos_token_id": eot, "pad_token_id": eot, "eos_token_id": [im_end, eot]}
    for name, obj in (("tokenizer_config.json", tc), ("generation_config.json", gen)):
        with open(os.path.join(path, name), "w") as f:
            json.dump(obj, f, indent=2)
    if not any(n.endswith(".safetensors") for n in os.listdir(path)):
        raise RuntimeError("save_pretrained wrote no .safetensors file")


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
    dims = {"--hidden": 128, "--layers": 2, "--heads": 4, "--kv-heads": 2, "--vocab": 2048}
    for flag, default in dims.items():
        p.add_argument(flag, type=int, default=default)
    args = p.parse_args(argv)
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
        build(args, tmp)
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
