"""A server process gets the environment it needs, not the supervisor's whole one (hardening
issue): the built-in list, supervisor.env_passthrough, and its own env on top."""

from __future__ import annotations

from supervisor.child_env import child_env

PARENT = {
    "PATH": "/usr/bin",
    "HOME": "/root",
    "LC_ALL": "C.UTF-8",
    "PYTHONPATH": "/checkout",
    "CUDA_VISIBLE_DEVICES": "0,1",
    "HF_TOKEN": "hf_x",
    "VLLM_LOGGING_LEVEL": "DEBUG",
    "TORCHINDUCTOR_CACHE_DIR": "/c",
    "MODELYARD_HOME": "/my",
    "MODELYARD_ADMIN_TOKEN": "admin-secret",
    "MODELYARD_API_KEY": "proxy-key",
    "AWS_SECRET_ACCESS_KEY": "aws",
    "OPENAI_API_KEY": "sk",
    "MY_SITE_FLAG": "1",
    "SITE_A": "a",
    "SITE_B": "b",
}


def test_only_the_builtin_list_passes_by_default() -> None:
    env = child_env(PARENT, (), {})
    assert env == {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": "/checkout",
        "CUDA_VISIBLE_DEVICES": "0,1",
        "HF_TOKEN": "hf_x",
        "VLLM_LOGGING_LEVEL": "DEBUG",
        "TORCHINDUCTOR_CACHE_DIR": "/c",
        "MODELYARD_HOME": "/my",
    }


def test_the_supervisors_own_secrets_stay_behind() -> None:
    env = child_env(PARENT, (), {})
    for name in ("MODELYARD_ADMIN_TOKEN", "MODELYARD_API_KEY", "AWS_SECRET_ACCESS_KEY"):
        assert name not in env


def test_passthrough_names_exact_or_by_prefix() -> None:
    env = child_env(PARENT, ["MY_SITE_FLAG", "SITE_*"], {})
    assert {k: env[k] for k in ("MY_SITE_FLAG", "SITE_A", "SITE_B")} == {
        "MY_SITE_FLAG": "1",
        "SITE_A": "a",
        "SITE_B": "b",
    }
    assert "OPENAI_API_KEY" not in env


def test_the_servers_own_env_wins_and_is_always_passed() -> None:
    env = child_env(PARENT, (), {"CUDA_VISIBLE_DEVICES": "1", "OPENAI_API_KEY": "own"})
    assert env["CUDA_VISIBLE_DEVICES"] == "1"
    assert env["OPENAI_API_KEY"] == "own"


def test_names_are_case_sensitive_as_posix_is() -> None:
    assert child_env({"path": "/x", "Home": "/y"}, (), {}) == {}
