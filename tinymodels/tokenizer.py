"""The byte-level BPE tokenizer every tiny model shares, trained on text already on disk
(CPython's stdlib sources), with ChatML's special tokens and the text model's chat template.
"""

from __future__ import annotations

import os
import sysconfig
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Qwen2.5's tags around tool calls and their results, added whole so the model can emit a tag as
# one token. Not special: vLLM's hermes parser finds them in the decoded text.
TOOL_TOKENS = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]
# ChatML that carries tools the way Qwen2.5 does, since vLLM's hermes parser reads that shape
# back: a system turn listing the tools, assistant turns with <tool_call> blocks, and tool results
# as <tool_response> blocks in a user turn. vLLM's Responses API and Anthropic /v1/messages turn
# their input into these same chat messages. `text` accepts a string, None (an assistant turn
# that only calls tools) or a list of parts, as OpenAI, Responses and Anthropic clients send them.
TOOLS_CHAT_TEMPLATE = (
    "{%- macro text(content) -%}"
    "{%- if content is string -%}{{ content }}"
    "{%- elif content is iterable and content is not mapping -%}"
    "{%- for part in content -%}"
    "{%- if part is string -%}{{ part }}"
    "{%- elif part.get('text') is string -%}{{ part['text'] }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{%- endmacro -%}"
    "{%- set system_first = messages and messages[0]['role'] == 'system' -%}"
    "{%- if tools -%}"
    "{{ '<|im_start|>system\n' }}"
    "{%- if system_first -%}{{ text(messages[0]['content']) + '\n\n' }}{%- endif -%}"
    "{{ '# Tools\n\nThese functions are available, one JSON signature per line:\n<tools>' }}"
    "{%- for tool in tools -%}{{ '\n' + tool | tojson }}{%- endfor -%}"
    "{{ '\n</tools>\n\nTo call a function, reply with its name and JSON arguments between tags:\n'"
    ' + \'<tool_call>\n{"name": "<name>", "arguments": {...}}\n</tool_call>\''
    " + '<|im_end|>\n' }}"
    "{%- endif -%}"
    "{%- for message in messages -%}"
    "{%- set role = message['role'] -%}"
    "{%- if role == 'system' and loop.first and tools -%}"
    "{%- elif role == 'tool' -%}"
    "{%- if loop.first or loop.previtem['role'] != 'tool' -%}{{ '<|im_start|>user' }}{%- endif -%}"
    "{{ '\n<tool_response>\n' + text(message['content']) + '\n</tool_response>' }}"
    "{%- if loop.last or loop.nextitem['role'] != 'tool' -%}{{ '<|im_end|>\n' }}{%- endif -%}"
    "{%- else -%}"
    "{{ '<|im_start|>' + role + '\n' + text(message['content']) }}"
    "{%- if role == 'assistant' and message.get('tool_calls') -%}"
    "{%- for call in message['tool_calls'] -%}"
    "{%- set fn = call['function'] if call.get('function') else call -%}"
    "{%- set args = fn.get('arguments') or {} -%}"
    "{%- if not loop.first or message['content'] -%}{{ '\n' }}{%- endif -%}"
    "{{ '<tool_call>\n{\"name\": ' + fn['name'] | tojson + ', \"arguments\": ' }}"
    "{{- args if args is string else args | tojson -}}"
    "{{ '}\n</tool_call>' }}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{ '<|im_end|>\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\n' }}{%- endif -%}"
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


def train_bpe(vocab_size: int, specials: list[str]) -> Tokenizer:
    """A byte-level BPE whose first ids are `specials`, in order; every byte is in the alphabet,
    so text in any script encodes (scripts the corpus lacks fall back to single bytes).
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

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
    return tok


def build_tokenizer(
    vocab_size: int, specials: list[str], chat_template: str, plain_tokens: list[str] | None = None
) -> PreTrainedTokenizerFast:
    """ChatML's tokenizer; `plain_tokens` become whole tokens that decode as ordinary text."""
    from tokenizers import AddedToken
    from transformers import PreTrainedTokenizerFast

    tok = train_bpe(vocab_size, specials)
    if plain_tokens:
        tok.add_tokens([AddedToken(t, normalized=False, special=False) for t in plain_tokens])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        chat_template=chat_template, model_max_length=2048, clean_up_tokenization_spaces=False,
    )  # fmt: skip
