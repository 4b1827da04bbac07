"""An alias bomb in a YAML file an operator was handed: refused at once, by key path and file,
by both readers (servers.yaml and `modelyard import-litellm`), instead of hanging whatever
walks the expanded tree (the import's secret scrub took over 30 s, and was stopped, on the
bomb below before this check)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modelyard_config import ConfigError
from modelyard_config.loading import MAX_VALUES, load_config, read_yaml

MODELYARD = str(Path(sys.executable).with_name("modelyard"))


def bomb(levels: int = 9, width: int = 9) -> str:
    """A few hundred bytes that expand to width**levels values."""
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_in_a_bounded_number_of_steps() -> None:
    with pytest.raises(ConfigError) as caught:
        read_yaml(bomb(), "bomb.yaml")
    assert "aliases" in str(caught.value) and "bomb.yaml" in str(caught.value)


def test_shared_aliases_of_a_real_size_are_fine() -> None:
    text = "base: &base {tier: warm, args: [--x, --y]}\n" + "".join(
        f"s{i}: *base\n" for i in range(100)
    )
    data = read_yaml(text, "ok.yaml")
    assert data["s99"] == {"tier": "warm", "args": ["--x", "--y"]}


def test_the_limit_counts_every_value_once_per_place_it_is_reached() -> None:
    # width**levels values plus the lists holding them: just over and just under the limit
    assert MAX_VALUES < 10**5 + 10**4
    with pytest.raises(ConfigError):
        read_yaml(bomb(levels=5, width=10), "over.yaml")  # 111,111 nodes
    read_yaml(bomb(levels=4, width=10), "under.yaml")  # 11,111 nodes


def test_load_config_refuses_a_servers_yaml_with_a_bomb(tmp_path: Path) -> None:
    path = tmp_path / "servers.yaml"
    path.write_text(bomb() + "servers: {a: {model: m, env: {X: '1'}}}\n")
    with pytest.raises(ConfigError, match="aliases"):
        load_config(path)


def test_import_litellm_refuses_a_bomb_and_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "litellm.yaml"
    source.write_text(
        bomb()
        + "model_list:\n  - model_name: m\n    litellm_params:\n"
        + "      model: openai/gpt-4o\n      extra_body: *a8\n"
    )
    out = tmp_path / "servers.yaml"
    done = subprocess.run(
        [MODELYARD, "import-litellm", str(source), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "aliases" in done.stderr
    assert not out.exists()
