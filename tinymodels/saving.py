"""Saving a tiny model in a layout that both transformers and vLLM read."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def save(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, path: str, chat_template: str
) -> None:
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
    check_safetensors(path)


def write_json(path: str, name: str, obj: dict[str, Any]) -> None:
    with open(os.path.join(path, name), "w") as f:
        json.dump(obj, f, indent=2)


def check_safetensors(path: str) -> None:
    if not any(n.endswith(".safetensors") for n in os.listdir(path)):
        raise RuntimeError("save_pretrained wrote no .safetensors file")
