"""The byte-level BPE tokenizer every tiny model shares, trained on text already on disk
(CPython's stdlib sources), with ChatML's special tokens and chat template.
"""

from __future__ import annotations

import os
import sysconfig
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

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


def corpus() -> Iterator[str]:
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


def build_tokenizer(
    vocab_size: int, specials: list[str] = SPECIALS, chat_template: str = CHAT_TEMPLATE
) -> PreTrainedTokenizerFast:
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
