"""Build a tiny random-weight Qwen2 chat model that real vLLM can serve on a small CPU box.

Why: the CPU profile runs the real `vllm serve` path (process start, /health, OpenAI routes,
SIGTERM) on a 2-core machine with no network and no model hub. A Qwen2ForCausalLM with hidden
128, 2 layers and 4 heads (head_dim 32, a size vLLM's CPU attention accepts) loads in seconds
and weighs about a megabyte. Its weights are random from --seed, so its output is gibberish by
design: what is exercised is the serving machinery, not the text.

The tokenizer is a byte-level BPE trained here, with `tokenizers`, on CPython's own stdlib
sources (text that is always on disk), carrying ChatML special tokens and a ChatML chat template
so /v1/chat/completions works.

This file is run as a script by the engine venv's python (torch, transformers, tokenizers,
safetensors); the project never imports it.

    python tiny_model_build.py --out DIR --seed N [--hidden 128 --layers 2 --heads 4
                               --kv-heads 2 --vocab 2048]

The model is built in DIR.tmp-<pid> and renamed to DIR only when complete, so a killed build
never leaves a half model that looks finished. If DIR/config.json exists it prints "exists".
"""
import argparse
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
PRETOKENIZE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
               r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
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
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        unk_token=None, bos_token=None, chat_template=CHAT_TEMPLATE,
        model_max_length=2048, clean_up_tokenization_spaces=False,
    )


def build(args, path):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    if args.hidden % args.heads or args.heads % args.kv_heads:
        raise ValueError("--hidden must divide by --heads, and --heads by --kv-heads")
    tokenizer = build_tokenizer(args.vocab)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIALS}
    config = Qwen2Config(
        vocab_size=len(tokenizer),  # exactly the tokenizer: no id the model samples is unknown
        hidden_size=args.hidden, intermediate_size=2 * args.hidden,
        num_hidden_layers=args.layers, num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads, max_position_embeddings=2048,
        tie_word_embeddings=True, bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
    )
    torch.manual_seed(args.seed)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16).eval()
    model.config.dtype = torch.bfloat16
    model.save_pretrained(path)  # safetensors is the default format
    tokenizer.save_pretrained(path)
    # transformers 5 names the class TokenizersBackend and puts the template in its own file;
    # name the portable class and inline the template too, so older loaders read it as well.
    tc_path = os.path.join(path, "tokenizer_config.json")
    with open(tc_path) as f:
        tc = json.load(f)
    tc.update(tokenizer_class="PreTrainedTokenizerFast", chat_template=CHAT_TEMPLATE)
    with open(tc_path, "w") as f:
        json.dump(tc, f, indent=2)
    gen = {"bos_token_id": ids["<|endoftext|>"], "pad_token_id": ids["<|endoftext|>"],
           "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]], "do_sample": False}
    with open(os.path.join(path, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)
    if not any(n.endswith(".safetensors") for n in os.listdir(path)):
        raise RuntimeError("save_pretrained wrote no .safetensors file")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--vocab", type=int, default=2048)
    args = p.parse_args(argv)
    out = os.path.abspath(args.out)
    if os.path.isfile(os.path.join(out, "config.json")):
        print("exists")
        return 0
    if os.path.exists(out):
        print(f"error: {out} exists but holds no config.json; remove it first", file=sys.stderr)
        return 2
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
        print(f"error: building tiny model into {out} failed: {type(e).__name__}: {e}",
              file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
