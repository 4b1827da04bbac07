"""What every tiny model shares: the byte-level BPE tokenizer trained on text already on disk
(CPython's stdlib sources), ChatML's template and stop ids, and saving in a layout that both
transformers and vLLM read. Run under the engine venv's python, imported by build.py.
"""

import json
import os
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


def build_tokenizer(vocab_size, specials=SPECIALS, chat_template=CHAT_TEMPLATE):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    split = pre_tokenizers.Split(Regex(PRETOKENIZE), behavior="isolated")
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.pre_tokenizer = pre_tokenizers.Sequence([split, byte_level])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )  # fmt: skip
    tok.train_from_iterator(corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        chat_template=chat_template, model_max_length=2048, clean_up_tokenization_spaces=False,
    )  # fmt: skip


def check_dims(args):
    if args.hidden % args.heads or args.heads % args.kv_heads:
        raise ValueError("--hidden must divide by --heads, and --heads by --kv-heads")


def save(model, tokenizer, path, chat_template):
    """Save weights and tokenizer with ChatML's stop ids, readable by old and new loaders."""
    import torch

    eot, im_end = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_end|>"])
    model.config.dtype = torch.bfloat16
    model.save_pretrained(path)  # safetensors is the default format
    tokenizer.save_pretrained(path)
    # transformers 5 names the class TokenizersBackend and puts the template in its own file;
    # name the portable class and inline the template too, so older loaders read it as well.
    with open(os.path.join(path, "tokenizer_config.json")) as f:
        tc = json.load(f)
    tc.update(tokenizer_class="PreTrainedTokenizerFast", chat_template=chat_template)
    gen = {"bos_token_id": eot, "pad_token_id": eot, "eos_token_id": [im_end, eot]}
    write_json(path, "tokenizer_config.json", tc)
    write_json(path, "generation_config.json", gen)
    if not any(n.endswith(".safetensors") for n in os.listdir(path)):
        raise RuntimeError("save_pretrained wrote no .safetensors file")


def write_json(path, name, obj):
    with open(os.path.join(path, name), "w") as f:
        json.dump(obj, f, indent=2)


def text_dims(args, tokenizer):
    eot, im_end = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_end|>"])
    return dict(
        vocab_size=len(tokenizer),  # exactly the tokenizer: no id the model samples is unknown
        hidden_size=args.hidden, intermediate_size=2 * args.hidden,
        num_hidden_layers=args.layers, num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads, max_position_embeddings=2048,
        bos_token_id=eot, eos_token_id=im_end, pad_token_id=eot,
    )  # fmt: skip


def check_safetensors(path):
    if not any(n.endswith(".safetensors") for n in os.listdir(path)):
        raise RuntimeError("save_pretrained wrote no .safetensors file")
