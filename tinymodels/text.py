"""Qwen2: the text model, and the text tower the VL and audio models put behind their encoders.

A Qwen2ForCausalLM with hidden 128, 2 layers and 4 heads (head_dim 32, which vLLM's CPU
attention accepts) weighs ~1 MB and loads in well under a second. Its chat template renders
tools and tool calls, so vLLM serves it with `--enable-auto-tool-choice --tool-call-parser hermes`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinymodels.dims import Dims
from tinymodels.saving import save
from tinymodels.tokenizer import SPECIALS, TOOL_TOKENS, TOOLS_CHAT_TEMPLATE, build_tokenizer

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def build_text(dims: Dims, seed: int, path: str) -> None:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    dims.check()
    tokenizer = build_tokenizer(dims.vocab, SPECIALS, TOOLS_CHAT_TEMPLATE, TOOL_TOKENS)
    config = Qwen2Config(**text_dims(dims, tokenizer), tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16).eval()
    save(model, tokenizer, path, TOOLS_CHAT_TEMPLATE)


def text_dims(dims: Dims, tokenizer: PreTrainedTokenizerBase) -> dict[str, Any]:
    """Qwen2Config's fields for the text tower, with ChatML's stop ids."""
    eot, im_end = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_end|>"])
    return dict(
        vocab_size=len(tokenizer),  # exactly the tokenizer: no id the model samples is unknown
        hidden_size=dims.hidden, intermediate_size=2 * dims.hidden,
        num_hidden_layers=dims.layers, num_attention_heads=dims.heads,
        num_key_value_heads=dims.kv_heads, max_position_embeddings=2048,
        bos_token_id=eot, eos_token_id=im_end, pad_token_id=eot,
    )  # fmt: skip
