"""Whisper and Qwen2-Audio: Whisper's token layout on the same kind of small BPE, for
/v1/audio/transcriptions and /translations; and the Qwen2 text tower behind a 2-layer audio
encoder 64 wide on 128 mels, for chat with input_audio/audio_url parts. Both servers decode
and resample audio with the media-libs on their PYTHONPATH.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from tinymodels.dims import Dims
from tinymodels.saving import check_safetensors, save, write_json
from tinymodels.text import text_dims
from tinymodels.tokenizer import SPECIALS, build_tokenizer, corpus

if TYPE_CHECKING:
    from transformers import WhisperTokenizer

# Whisper's log-mel front end (30 s windows of 16 kHz audio, 10 ms hops: 3000 frames, which the
# encoder's stride-2 conv turns into its 1500 positions). Qwen2-Audio uses the same with 128 mels.
MEL_FRAMES = {"sampling_rate": 16000, "chunk_length": 30, "hop_length": 160, "n_fft": 400}
WHISPER_MELS = 80
WHISPER_MAX_TARGET = 448  # Whisper's decoder context; the server's --max-model-len
AUDIO_MELS = 128
# Qwen2-Audio's names: its processor and vLLM's prompt replacement look these strings up.
AUDIO_SPECIALS = ["<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>"]
# Each audio part (vLLM passes {"type": "audio"}, or the request's own input_audio/audio_url part)
# becomes Qwen2-Audio's "Audio N:" placeholder, which the processor widens to the clip's length.
AUDIO_CHAT_TEMPLATE = (
    "{% set audio_count = namespace(value=0) %}"
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% elif part['type'] in ('audio', 'input_audio', 'audio_url') %}"
    "{% set audio_count.value = audio_count.value + 1 %}"
    "{{ 'Audio ' + audio_count.value|string + ': <|audio_bos|><|AUDIO|><|audio_eos|>\n' }}"
    "{% endif %}{% endfor %}{% endif %}{{ '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build_whisper(dims: Dims, seed: int, path: str) -> None:
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

    dims.check()
    tokenizer = build_whisper_tokenizer(dims.vocab)
    eot, sot = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|startoftranscript|>"])
    config = WhisperConfig(
        vocab_size=len(tokenizer), num_mel_bins=WHISPER_MELS, d_model=dims.hidden,
        encoder_layers=dims.layers, decoder_layers=dims.layers,
        encoder_attention_heads=dims.heads, decoder_attention_heads=dims.heads,
        encoder_ffn_dim=4 * dims.hidden, decoder_ffn_dim=4 * dims.hidden,
        max_source_positions=1500, max_target_positions=WHISPER_MAX_TARGET,
        decoder_start_token_id=sot, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
        begin_suppress_tokens=None, suppress_tokens=None, tie_word_embeddings=True,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config).to(torch.bfloat16).eval()
    model.config.dtype = torch.bfloat16
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    WhisperFeatureExtractor(feature_size=WHISPER_MELS, **MEL_FRAMES).save_pretrained(path)
    write_json(path, "processor_config.json", {"processor_class": "WhisperProcessor"})
    write_json(path, "generation_config.json", whisper_generation(tokenizer))
    check_safetensors(path)


def build_whisper_tokenizer(vocab_size: int) -> WhisperTokenizer:
    """Whisper's layout on a small BPE: text, <|endoftext|>, the task tokens, then timestamps.

    vLLM writes prompts as `<|startoftranscript|><|xx|><|transcribe|><|notimestamps|>`, detects
    the language by restricting the first token to every `<|xx|>` it supports, and reads
    verbose_json segments by taking ids from `<|0.00|>` up as timestamps, so all of these must be
    single tokens and the timestamps must come last.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import WhisperTokenizer
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)  # GPT-2's split
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )  # fmt: skip
    tok.train_from_iterator(corpus(), trainer=trainer)
    bpe = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in bpe["merges"]]
    tokenizer = WhisperTokenizer(vocab=bpe["vocab"], merges=merges, model_max_length=1024)
    specials = [
        "<|startoftranscript|>", *(f"<|{code}|>" for code in LANGUAGES),
        "<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>",
        "<|notimestamps|>",
    ]  # fmt: skip
    tokenizer.add_special_tokens({"extra_special_tokens": specials})
    stamps = [f"<|{i * 0.02:.2f}|>" for i in range(1501)]  # 0.00 .. 30.00 s
    tokenizer.add_tokens([AddedToken(t, normalized=False, special=False) for t in stamps])
    missing = [t for t in specials + stamps if tokenizer.convert_tokens_to_ids(t) == 0]
    if missing or tokenizer.convert_tokens_to_ids(stamps[0]) <= max(tokenizer.all_special_ids):
        raise RuntimeError(f"whisper tokenizer layout is wrong (missing {missing[:3]})")
    return tokenizer


def whisper_generation(tokenizer: WhisperTokenizer) -> dict[str, Any]:
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    def ids(*tokens: str) -> list[int]:
        found: list[int] = tokenizer.convert_tokens_to_ids(list(tokens))
        return found

    eot, sot, no_ts, transcribe, translate = ids(
        "<|endoftext|>", "<|startoftranscript|>", "<|notimestamps|>", "<|transcribe|>",
        "<|translate|>",
    )  # fmt: skip
    langs = [f"<|{code}|>" for code in LANGUAGES]
    return {
        "bos_token_id": eot, "eos_token_id": eot, "pad_token_id": eot,
        "decoder_start_token_id": sot, "no_timestamps_token_id": no_ts,
        "max_length": WHISPER_MAX_TARGET, "is_multilingual": True,
        "lang_to_id": dict(zip(langs, ids(*langs), strict=True)),
        "task_to_id": {"transcribe": transcribe, "translate": translate},
        "begin_suppress_tokens": [], "suppress_tokens": [],
    }  # fmt: skip


def build_audio(dims: Dims, seed: int, path: str) -> None:
    import torch
    from transformers import (
        Qwen2AudioConfig,
        Qwen2AudioForConditionalGeneration,
        WhisperFeatureExtractor,
    )

    dims.check()
    tokenizer = build_tokenizer(dims.vocab, SPECIALS + AUDIO_SPECIALS, AUDIO_CHAT_TEMPLATE)
    audio_pad = tokenizer.convert_tokens_to_ids("<|AUDIO|>")
    text = {**text_dims(dims, tokenizer), "tie_word_embeddings": True}
    audio = dict(
        num_mel_bins=AUDIO_MELS, d_model=64, encoder_layers=2, encoder_attention_heads=2,
        encoder_ffn_dim=256, max_source_positions=1500,
    )  # fmt: skip
    config = Qwen2AudioConfig(
        audio_config=audio, text_config=text, audio_token_index=audio_pad,
        tie_word_embeddings=True,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = Qwen2AudioForConditionalGeneration(config).to(torch.bfloat16).eval()
    save(model, tokenizer, path, AUDIO_CHAT_TEMPLATE)
    to_vllm_names(path)
    WhisperFeatureExtractor(feature_size=AUDIO_MELS, **MEL_FRAMES).save_pretrained(path)
    write_json(path, "processor_config.json", {"processor_class": "Qwen2AudioProcessor"})
    with open(os.path.join(path, "chat_template.jinja"), "w") as f:
        f.write(AUDIO_CHAT_TEMPLATE)


def to_vllm_names(path: str) -> None:
    """Rewrite the checkpoint the way vLLM reads Qwen2-Audio (and the published checkpoints are).

    transformers 5.19 saves the text tower as language_model.model.model.*, which vLLM only loads
    as language_model.model.*. It also saves an untied language_model.lm_head although the config
    ties it, and vLLM would then use that instead of tying (with a warning): drop it.
    """
    from safetensors.torch import load_file, save_file

    (name,) = [n for n in os.listdir(path) if n.endswith(".safetensors")]
    weights = load_file(os.path.join(path, name))
    old = "language_model.model.model."
    renamed = {
        ("language_model.model." + k[len(old) :] if k.startswith(old) else k): v
        for k, v in weights.items()
        if k != "language_model.lm_head.weight"
    }
    save_file(renamed, os.path.join(path, name), metadata={"format": "pt"})
