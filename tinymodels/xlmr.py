"""XLM-RoBERTa, the architecture of BAAI's bge-m3 and bge-reranker-v2-m3 on the GPU box: a bare
encoder for /v1/embeddings, and the same encoder under a one-logit head for /v1/rerank and
/v1/score, both on vLLM's pooling runner (`--runner pooling`).

Hidden 64, 2 layers, 2 heads (head_dim 32, which vLLM's CPU attention accepts). The tokenizer is
the shared byte-level BPE with XLM-R's specials in XLM-R's order and RoBERTa's pair layout
(`<s> A </s></s> B </s>`), which is how vLLM joins a query and a document for a cross-encoder.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from tinymodels.dims import Dims
from tinymodels.saving import check_safetensors, write_json
from tinymodels.tokenizer import train_bpe

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerFast

# XLM-R's ids 0..3 (<s> <pad> </s> <unk>); its <mask> is its last id, here the next one.
XLMR_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
BOS, PAD, EOS = 0, 1, 2
MAX_TOKENS = 512
# RoBERTa numbers positions from pad id + 1, so 512 tokens need 514 position embeddings.
MAX_POSITIONS = MAX_TOKENS + PAD + 1


def build_xlmr_embed(dims: Dims, seed: int, path: str) -> None:
    from transformers import XLMRobertaConfig, XLMRobertaModel

    tokenizer = build_xlmr_tokenizer(dims.vocab)
    config = XLMRobertaConfig(**xlmr_dims(dims, tokenizer))
    build_and_save(XLMRobertaModel, config, tokenizer, seed, path)
    # vLLM refuses the OpenAI `dimensions` parameter unless the model says its embeddings may be
    # truncated; random weights make any prefix as good as the whole.
    patch_config(path, is_matryoshka=True)


def build_xlmr_rerank(dims: Dims, seed: int, path: str) -> None:
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    tokenizer = build_xlmr_tokenizer(dims.vocab)
    # One logit per (query, document) pair: vLLM's score for a cross-encoder, as in
    # bge-reranker-v2-m3.
    config = XLMRobertaConfig(**xlmr_dims(dims, tokenizer), num_labels=1)
    build_and_save(XLMRobertaForSequenceClassification, config, tokenizer, seed, path)
    patch_config(path)


def xlmr_dims(dims: Dims, tokenizer: PreTrainedTokenizerFast) -> dict[str, Any]:
    dims.check()
    return dict(
        vocab_size=len(tokenizer), hidden_size=dims.hidden, intermediate_size=4 * dims.hidden,
        num_hidden_layers=dims.layers, num_attention_heads=dims.heads,
        max_position_embeddings=MAX_POSITIONS, type_vocab_size=1, layer_norm_eps=1e-5,
        bos_token_id=BOS, pad_token_id=PAD, eos_token_id=EOS,
    )  # fmt: skip


def build_and_save(
    model_class: type[PreTrainedModel],
    config: PretrainedConfig,
    tokenizer: PreTrainedTokenizerFast,
    seed: int,
    path: str,
) -> None:
    import torch

    torch.manual_seed(seed)
    model = model_class(config).to(torch.bfloat16).eval()
    model.config.dtype = torch.bfloat16
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    with open(os.path.join(path, "tokenizer_config.json")) as f:
        tc = json.load(f)
    # transformers 5 names the class TokenizersBackend; the portable class reads tokenizer.json
    # as it is, where XLMRobertaTokenizer would look for a sentencepiece model.
    tc["tokenizer_class"] = "PreTrainedTokenizerFast"
    write_json(path, "tokenizer_config.json", tc)
    check_safetensors(path)


def patch_config(path: str, **extra: Any) -> None:
    """Add what vLLM 0.32 reads and transformers 5 no longer writes: position_embedding_type.
    vLLM's config hook for XLMRobertaModel (shared with Jina's rotary models) reads it
    unguarded, and "absolute" makes a pooling model's max length honour the tokenizer's 512.
    """
    with open(os.path.join(path, "config.json")) as f:
        config = json.load(f)
    config.update(position_embedding_type="absolute", **extra)
    write_json(path, "config.json", config)


def build_xlmr_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    tok = train_bpe(vocab_size, XLMR_SPECIALS)
    ids = tok.token_to_id
    if [ids(t) for t in XLMR_SPECIALS] != list(range(len(XLMR_SPECIALS))):
        raise RuntimeError("xlm-roberta tokenizer: specials did not take ids 0..4")
    # (sep, cls) are positional-only
    tok.post_processor = processors.RobertaProcessing(
        ("</s>", EOS), ("<s>", BOS), trim_offsets=False, add_prefix_space=False
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
        cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
        model_max_length=MAX_TOKENS, clean_up_tokenization_spaces=False,
    )  # fmt: skip
