"""`modelyard import-litellm` as an operator runs it (issue 17, config import): the real CLI
in a subprocess writes a servers.yaml that the real `modelyard check` accepts, prints its
notes to stderr, refuses to clobber a file, and on bad input writes nothing."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.stack import MODELYARD
from modelyard import atomic_file
from supervisor import paths

DATA = paths.project_root() / "tests" / "data" / "litellm"


def modelyard(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MODELYARD, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("shape", ["fallbacks.yaml", "local.yaml", "secrets.yaml"])
def test_the_written_file_passes_modelyard_check(tmp_path: Path, shape: str) -> None:
    out = tmp_path / "servers.yaml"
    done = modelyard("import-litellm", str(DATA / shape), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert f"modelyard: wrote {out}" in done.stderr
    checked = modelyard("check", str(out))
    assert checked.returncode == 0, checked.stderr
    assert f"{out}: ok" in checked.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["servers.yaml"], "no temp file left"


def test_without_output_it_prints_yaml_and_the_notes_go_to_stderr(tmp_path: Path) -> None:
    done = modelyard("import-litellm", str(DATA / "secrets.yaml"))
    assert done.returncode == 0, done.stderr
    written = yaml.safe_load(done.stdout)
    assert list(written["servers"]) == ["gpt-4o", "bedrock-claude", "azure-gpt"]
    assert done.stdout.startswith(
        f"# Imported by `modelyard import-litellm` from LiteLLM's {DATA / 'secrets.yaml'}."
    )
    assert "#   general_settings.master_key: " in done.stdout, "the header lists what was left"
    assert "NEVERWRITTEN" not in done.stdout + done.stderr
    assert "modelyard: not carried over (13):" in done.stderr
    assert (
        "  model_list[0].litellm_params.api_key: a literal key is never written to servers.yaml: "
        "set it in an env var and name it in servers.gpt-4o.remote.api_key_env"
    ) in done.stderr
    assert "modelyard: to review (1):\n  routes.agent: " in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_remote_only_and_resolve_env(tmp_path: Path) -> None:
    out = tmp_path / "servers.yaml"
    done = modelyard(
        "import-litellm",
        str(DATA / "local.yaml"),
        "--output",
        str(out),
        "--remote-only",
    )
    assert done.returncode == 0, done.stderr
    assert "(0 local, 5 remote servers)" in done.stderr
    servers = yaml.safe_load(out.read_text())["servers"]
    assert servers["bge-m3"]["remote"] == {"model": "vllm/BAAI/bge-m3"}
    secrets = tmp_path / "secrets.yaml"
    done = modelyard(
        "import-litellm",
        str(DATA / "secrets.yaml"),
        "-o",
        str(secrets),
        "--resolve-env",
        env={"AZURE_API_BASE": "https://from-env.example.com/"},
    )
    assert done.returncode == 0, done.stderr
    azure = yaml.safe_load(secrets.read_text())["servers"]["azure-gpt"]["remote"]
    assert azure["api_base"] == "https://from-env.example.com/"


def test_an_existing_file_is_kept_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "servers.yaml"
    out.write_text("# mine\n")
    done = modelyard("import-litellm", str(DATA / "hosted.yaml"), "-o", str(out))
    assert done.returncode == 2
    assert f"error: {out} exists: pass --force to overwrite it" in done.stderr
    assert out.read_text() == "# mine\n"
    done = modelyard("import-litellm", str(DATA / "hosted.yaml"), "-o", str(out), "--force")
    assert done.returncode == 0, done.stderr
    assert "gpt-4o-mini" in yaml.safe_load(out.read_text())["servers"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["servers.yaml"]


def test_bad_input_is_exit_2_naming_the_key_path_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "model_list": [
                    {"model_name": "ok", "litellm_params": {"model": "openai/gpt-4o"}},
                    {"model_name": "broken", "litellm_params": {"api_key": "os.environ/K"}},
                ]
            }
        )
    )
    out = tmp_path / "servers.yaml"
    done = modelyard("import-litellm", str(bad), "-o", str(out))
    assert done.returncode == 2
    assert f"error: {bad}: model_list[1].litellm_params.model: missing" in done.stderr
    assert done.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]
    bad.write_text("model_list: [unclosed\n")
    done = modelyard("import-litellm", str(bad), "-o", str(out))
    assert done.returncode == 2
    assert f"error: {bad}: not valid YAML" in done.stderr
    done = modelyard("import-litellm", str(tmp_path / "absent.yaml"))
    assert done.returncode == 2
    assert "cannot read file" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def full_disk(src: object, dst: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_failed_write_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rename is doubled: a full disk cannot be made safely in a test."""
    out = tmp_path / "servers.yaml"
    out.write_text("old\n")
    monkeypatch.setattr("modelyard.atomic_file.os.replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        atomic_file.write_whole(out, "new\n", replace=True)
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["servers.yaml"]


def test_without_replace_an_existing_file_is_never_clobbered(tmp_path: Path) -> None:
    """The file may appear after the CLI looked: the hard link refuses it even then."""
    out = tmp_path / "servers.yaml"
    out.write_text("old\n")
    with pytest.raises(FileExistsError):
        atomic_file.write_whole(out, "new\n", replace=False)
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["servers.yaml"]
    fresh = tmp_path / "fresh.yaml"
    atomic_file.write_whole(fresh, "new\n", replace=False)
    assert fresh.read_text() == "new\n"
    assert oct(fresh.stat().st_mode & 0o777) == oct(0o666 & ~_umask()), "an ordinary file"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
