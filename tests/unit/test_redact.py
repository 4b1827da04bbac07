"""Secrets never reach a log banner, the admin API or a failure report (hardening issue):
the pure masking that every one of those goes through."""

from __future__ import annotations

from supervisor import redact
from supervisor.redact import MASK


def test_env_values_of_secret_looking_names_are_masked_whatever_their_case() -> None:
    shown = redact.env(
        {
            "HF_TOKEN": "hf_abcdef",
            "openai_api_key": "sk-1",
            "DB_PASSWORD": "pw",
            "LEGACY_PASSWD": "pw",
            "GCP_CREDENTIALS": "{}",
            "X_AUTH": "a",
            "MY_SECRET": "s",
            "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
            "PYTHONPATH": "/opt/media-libs",
        }
    )
    assert shown == {
        "HF_TOKEN": MASK,
        "openai_api_key": MASK,
        "DB_PASSWORD": MASK,
        "LEGACY_PASSWD": MASK,
        "GCP_CREDENTIALS": MASK,
        "X_AUTH": MASK,
        "MY_SECRET": MASK,
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "PYTHONPATH": "/opt/media-libs",
    }


def test_the_value_after_a_secret_flag_is_masked_in_both_spellings() -> None:
    argv = [
        "vllm", "serve", "m",
        "--api-key", "sk-live-1",
        "--hf-token=hf_xyz",
        "--token", "t0k",
        "--port", "8100",
    ]  # fmt: skip
    assert redact.argv(argv) == [
        "vllm", "serve", "m",
        "--api-key", MASK,
        f"--hf-token={MASK}",
        "--token", MASK,
        "--port", "8100",
    ]  # fmt: skip


def test_flags_that_merely_contain_a_secret_word_keep_their_values() -> None:
    argv = ["--max-num-batched-tokens", "8192", "--tokenizer", "/m/tok", "--ssl-keyfile", "/k"]
    assert redact.argv(argv) == argv


def test_a_secret_flag_at_the_end_masks_nothing_after_it_and_keeps_the_length() -> None:
    assert redact.argv(["serve", "--api-key"]) == ["serve", "--api-key"]


def test_url_credentials_are_masked_in_env_values_argv_and_text() -> None:
    assert redact.env({"HTTPS_PROXY": "http://bob:pw@proxy:3128"}) == {
        "HTTPS_PROXY": f"http://{MASK}@proxy:3128"
    }
    assert redact.argv(["--model", "https://u:p@hub/m"]) == ["--model", f"https://{MASK}@hub/m"]
    assert redact.scrub("GET https://u:p@hub/m", set()) == f"GET https://{MASK}@hub/m"


def test_free_text_is_scrubbed_of_the_secret_values_the_command_and_env_carry() -> None:
    argv = ["vllm", "serve", "m", "--api-key", "sk-live-123", "--port", "8100"]
    secrets = redact.secret_values(argv, {"HF_TOKEN": "hf_abcdef", "FLAG": "8100", "X_KEY": "1"})
    assert secrets == {"sk-live-123", "hf_abcdef"}, "a 1-char secret would mask half a line"
    line = "non-default args: {'api_key': 'sk-live-123', 'port': 8100} token hf_abcdef"
    assert redact.scrub(line, secrets) == (
        f"non-default args: {{'api_key': '{MASK}', 'port': 8100}} token {MASK}"
    )
