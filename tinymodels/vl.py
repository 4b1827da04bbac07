"""Qwen2-VL: the tiny text tower behind a 2-layer vision tower 64 wide, with Qwen2-VL's vision
tokens and processor files, so image and video chat take vLLM's real multimodal path. The
processor files are written as JSON rather than saved from processor objects: those need
torchvision, which the engine venv does not carry (the VL server gets it from its own
PYTHONPATH).
"""

from __future__ import annotations

import os

from tinymodels.dims import Dims
from tinymodels.saving import save, write_json
from tinymodels.text import text_dims
from tinymodels.tokenizer import SPECIALS, build_tokenizer

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


def build_vl(dims: Dims, seed: int, path: str) -> None:
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    dims.check()
    head_dim = dims.hidden // dims.heads
    if head_dim != 64:
        raise ValueError(f"qwen2-vl needs head_dim 64 (mrope_section [8, 12, 12]), got {head_dim}")
    tokenizer = build_tokenizer(dims.vocab, SPECIALS + VL_SPECIALS, VL_CHAT_TEMPLATE)
    ids = dict(zip(VL_SPECIALS, tokenizer.convert_tokens_to_ids(VL_SPECIALS), strict=True))
    text = text_dims(dims, tokenizer)
    text["rope_parameters"] = {
        "rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": [8, 12, 12],
    }  # fmt: skip
    vision = dict(
        depth=2, embed_dim=64, num_heads=2, mlp_ratio=4, hidden_size=dims.hidden,
        patch_size=PATCH, spatial_merge_size=MERGE, temporal_patch_size=2,
    )  # fmt: skip
    config = Qwen2VLConfig(
        text_config=text, vision_config=vision, tie_word_embeddings=True,
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )  # fmt: skip
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config).to(torch.bfloat16).eval()
    save(model, tokenizer, path, VL_CHAT_TEMPLATE)
    write_vl_processor(path)


def write_vl_processor(path: str) -> None:
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
