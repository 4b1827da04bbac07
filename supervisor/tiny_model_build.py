"""Build a tiny random-weight Qwen2 (VL, Audio) or Whisper model that real vLLM serves on a CPU.

Why: the CPU profile runs the real vLLM serving path (spawn, /health, OpenAI routes, SIGTERM) with
no GPU, network or model hub. A Qwen2ForCausalLM with hidden 128, 2 layers, 4 heads (head_dim 32,
which vLLM's CPU attention accepts) weighs ~1 MB and loads in well under a second. Weights are
random from --seed, so the output is gibberish by design: the serving machinery is what runs.
The tokenizer is a byte-level BPE trained here on CPython's stdlib sources (always on disk), with
ChatML special tokens and chat template so /v1/chat/completions works.

--kind qwen2-vl builds a Qwen2VLForConditionalGeneration instead: the same text tower (2 heads,
1 KV head: head_dim 64 is what mrope_section [8, 12, 12] splits), a 2-block vision tower 64 wide,
Qwen2-VL's vision tokens in the tokenizer, and processor configs capped at 64 tokens per image,
so image and video chat requests take vLLM's real multimodal path in seconds. The processor
files are written as JSON rather than saved from processor objects: those need torchvision,
which the engine venv does not carry (the VL server gets it from its own PYTHONPATH).

--kind whisper builds a WhisperForConditionalGeneration (d_model 128, 2+2 layers, 80 mels) with
Whisper's token layout on the same kind of small BPE, for /v1/audio/transcriptions and
/translations. --kind qwen2-audio builds a Qwen2AudioForConditionalGeneration: the VL text tower
behind a 2-layer audio encoder 64 wide on 128 mels, for chat with input_audio/audio_url parts.
Both servers decode and resample audio with the media-libs on their PYTHONPATH.

Run by the engine venv's python (torch, transformers, tokenizers); the project never imports it:
    python tiny_model_build.py --out DIR --seed N [--kind qwen2|qwen2-vl|whisper|qwen2-audio ...]
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

# Qwen2-VL's names for its vision tokens: transformers' Qwen2VLProcessor and vLLM's prompt
# replacement look these strings up, so they are kept verbatim.
VL_SPECIALS = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
# The content loop makes vLLM pass parts in OpenAI's shape ({"type": "image"}, ...); each image or
# video part becomes one pad token that the processor widens to the part's patch count.
VL_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% elif part['type'] in ('image', 'image_url') %}"
    "{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{% elif part['type'] in ('video', 'video_url') %}"
    "{{ '<|vision_start|><|video_pad|><|vision_end|>' }}"
    "{% endif %}{% endfor %}{% endif %}{{ '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
PATCH = 14
MERGE = 2
PIXELS_PER_TOKEN = (PATCH * MERGE) ** 2  # one merged 28x28 patch is one LLM token
# 64 tokens per image and per pair of video frames keeps a prompt with two images and a
# 32-frame video (vLLM's default sampling) well inside a 2048-token context.
VL_MAX_PIXELS = PIXELS_PER_TOKEN * 64
VL_MIN_PIXELS = PIXELS_PER_TOKEN * 4
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

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


def build_text(args, path):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    check_dims(args)
    tokenizer = build_tokenizer(args.vocab)
    config = Qwen2Config(**text_dims(args, tokenizer), tie_word_embeddings=True)
    torch.manual_seed(args.seed)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16).eval()
    save(model, tokenizer, path, CHAT_TEMPLATE)


def build_vl(args, path):
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    check_dims(args)
    head_dim = args.hidden // args.heads
    if head_dim != 64:
        raise ValueError(f"qwen2-vl needs head_dim 64 (mrope_section [8, 12, 12]), got {head_dim}")
    tokenizer = build_tokenizer(args.vocab, SPECIALS + VL_SPECIALS, VL_CHAT_TEMPLATE)
    ids = dict(zip(VL_SPECIALS, tokenizer.convert_tokens_to_ids(VL_SPECIALS), strict=True))
    text = text_dims(args, tokenizer)
    text["rope_parameters"] = {
        "rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": [8, 12, 12],
    }  # fmt: skip
    vision = dict(
        depth=2, embed_dim=64, num_heads=2, mlp_ratio=4, hidden_size=args.hidden,
        patch_size=PATCH, spatial_merge_size=MERGE, temporal_patch_size=2,
    )  # fmt: skip
    config = Qwen2VLConfig(
        text_config=text, vision_config=vision, tie_word_embeddings=True,
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )  # fmt: skip
    torch.manual_seed(args.seed)
    model = Qwen2VLForConditionalGeneration(config).to(torch.bfloat16).eval()
    save(model, tokenizer, path, VL_CHAT_TEMPLATE)
    write_vl_processor(path)


def write_vl_processor(path):
    pixels = {
        "do_resize": True, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
        "do_convert_rgb": True, "image_mean": CLIP_MEAN, "image_std": CLIP_STD,
        "min_pixels": VL_MIN_PIXELS, "max_pixels": VL_MAX_PIXELS,
        "size": {"shortest_edge": VL_MIN_PIXELS, "longest_edge": VL_MAX_PIXELS},
        "patch_size": PATCH, "temporal_patch_size": 2, "merge_size": MERGE,
        "processor_class": "Qwen2VLProcessor",
    }  # fmt: skip
    write_json(
        path,
        "preprocessor_config.json",
        {"image_processor_type": "Qwen2VLImageProcessor", **pixels},
    )
    video = {"video_processor_type": "Qwen2VLVideoProcessor", "do_sample_frames": False, **pixels}
    write_json(path, "video_preprocessor_config.json", video)
    write_json(path, "processor_config.json", {"processor_class": "Qwen2VLProcessor"})
    with open(os.path.join(path, "chat_template.jinja"), "w") as f:
        f.write(VL_CHAT_TEMPLATE)


def build_whisper(args, path):
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

    check_dims(args)
    tokenizer = build_whisper_tokenizer(args.vocab)
    eot, sot = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|startoftranscript|>"])
    config = WhisperConfig(
        vocab_size=len(tokenizer), num_mel_bins=WHISPER_MELS, d_model=args.hidden,
        encoder_layers=args.layers, decoder_layers=args.layers,
        encoder_attention_heads=args.heads, decoder_attention_heads=args.heads,
        encoder_ffn_dim=4 * args.hidden, decoder_ffn_dim=4 * args.hidden,
        max_source_positions=1500, max_target_positions=WHISPER_MAX_TARGET,
        decoder_start_token_id=sot, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
        begin_suppress_tokens=None, suppress_tokens=None, tie_word_embeddings=True,
    )  # fmt: skip
    torch.manual_seed(args.seed)
    model = WhisperForConditionalGeneration(config).to(torch.bfloat16).eval()
    model.config.dtype = torch.bfloat16
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    WhisperFeatureExtractor(feature_size=WHISPER_MELS, **MEL_FRAMES).save_pretrained(path)
    write_json(path, "processor_config.json", {"processor_class": "WhisperProcessor"})
    write_json(path, "generation_config.json", whisper_generation(tokenizer))
    check_safetensors(path)


def build_whisper_tokenizer(vocab_size):
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


def whisper_generation(tokenizer):
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    def ids(*tokens):
        return tokenizer.convert_tokens_to_ids(list(tokens))

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


def build_audio(args, path):
    import torch
    from transformers import (
        Qwen2AudioConfig,
        Qwen2AudioForConditionalGeneration,
        WhisperFeatureExtractor,
    )

    check_dims(args)
    tokenizer = build_tokenizer(args.vocab, SPECIALS + AUDIO_SPECIALS, AUDIO_CHAT_TEMPLATE)
    audio_pad = tokenizer.convert_tokens_to_ids("<|AUDIO|>")
    text = {**text_dims(args, tokenizer), "tie_word_embeddings": True}
    audio = dict(
        num_mel_bins=AUDIO_MELS, d_model=64, encoder_layers=2, encoder_attention_heads=2,
        encoder_ffn_dim=256, max_source_positions=1500,
    )  # fmt: skip
    config = Qwen2AudioConfig(
        audio_config=audio, text_config=text, audio_token_index=audio_pad,
        tie_word_embeddings=True,
    )  # fmt: skip
    torch.manual_seed(args.seed)
    model = Qwen2AudioForConditionalGeneration(config).to(torch.bfloat16).eval()
    save(model, tokenizer, path, AUDIO_CHAT_TEMPLATE)
    to_vllm_names(path)
    WhisperFeatureExtractor(feature_size=AUDIO_MELS, **MEL_FRAMES).save_pretrained(path)
    write_json(path, "processor_config.json", {"processor_class": "Qwen2AudioProcessor"})
    with open(os.path.join(path, "chat_template.jinja"), "w") as f:
        f.write(AUDIO_CHAT_TEMPLATE)


def to_vllm_names(path):
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


def check_safetensors(path):
    if not any(n.endswith(".safetensors") for n in os.listdir(path)):
        raise RuntimeError("save_pretrained wrote no .safetensors file")


BUILDERS = {
    "qwen2": build_text,
    "qwen2-vl": build_vl,
    "whisper": build_whisper,
    "qwen2-audio": build_audio,
}
DEFAULT_DIMS = {
    "qwen2": {"hidden": 128, "layers": 2, "heads": 4, "kv_heads": 2, "vocab": 2048},
    "qwen2-vl": {"hidden": 128, "layers": 2, "heads": 2, "kv_heads": 1, "vocab": 2048},
    # d_model 128 with 2 heads: head_dim 64 for vLLM's CPU attention; kv_heads is unused.
    "whisper": {"hidden": 128, "layers": 2, "heads": 2, "kv_heads": 2, "vocab": 2048},
    "qwen2-audio": {"hidden": 128, "layers": 2, "heads": 2, "kv_heads": 1, "vocab": 2048},
}


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
    p.add_argument("--kind", choices=sorted(BUILDERS), default="qwen2")
    # Unset dims take the kind's defaults: the VL text tower needs head_dim 64 for its mrope.
    for flag in ("--hidden", "--layers", "--heads", "--kv-heads", "--vocab"):
        p.add_argument(flag, type=int)
    args = p.parse_args(argv)
    for key, value in DEFAULT_DIMS[args.kind].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
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
        BUILDERS[args.kind](args, tmp)
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
