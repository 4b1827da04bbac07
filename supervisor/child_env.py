"""The environment a server process starts with: what it needs, not the supervisor's whole one.

Pure. A server gets the supervisor's variables whose names are on the built-in list below or in
`supervisor.env_passthrough` (a trailing `*` is a prefix), then its own `env` from the config on
top. So the supervisor's own secrets (MODELYARD_ADMIN_TOKEN, MODELYARD_API_KEY, a cloud key in
the operator's shell) never reach a model server, while the variables that engines, GPUs and
model hubs read still do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

BUILTIN: tuple[str, ...] = (
    # the process basics
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TERM",
    "TZ",
    "TMPDIR",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "XDG_*",
    # the interpreter: PYTHONPATH carries a checkout that is not installed (bench/proxy_ab.py)
    "PYTHON*",
    "VIRTUAL_ENV",
    # vLLM's CPU build is tuned with a preloaded allocator (tcmalloc, Intel OpenMP)
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    # accelerators and their collective libraries
    "CUDA_*",
    "NVIDIA_*",
    "NCCL_*",
    "HIP_*",
    "ROCR_*",
    "ROCM_*",
    "TRITON_*",
    # engines, model hubs and math libraries
    "VLLM_*",
    "HF_*",
    "HUGGINGFACE_*",
    "TRANSFORMERS_*",
    "TORCH*",
    "OMP_*",
    "KMP_*",
    "MKL_*",
    "OPENBLAS_*",
    # hub downloads through a site's proxy, trusting its CA
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    # modelyard's own folders (the speech sidecars find their models under MODELYARD_HOME);
    # not MODELYARD_* as a whole: the admin token and the proxy's keys live there
    "MODELYARD_HOME",
    "MODELYARD_MODELS_DIR",
    "MODELYARD_ENGINE_VENV",
)


def allowed(name: str, patterns: Iterable[str]) -> bool:
    """Exact names, or prefixes written with a trailing `*`; case-sensitive, as POSIX is."""
    return any(name.startswith(p[:-1]) if p.endswith("*") else name == p for p in patterns)


def child_env(
    parent: Mapping[str, str], passthrough: Iterable[str], own: Mapping[str, str]
) -> dict[str, str]:
    patterns = (*BUILTIN, *passthrough)
    return {**{k: v for k, v in parent.items() if allowed(k, patterns)}, **own}
