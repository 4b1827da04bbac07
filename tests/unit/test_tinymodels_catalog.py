"""The tiny models' recipe stamps: a changed builder reaches caches built before it.

Issue: `catalog.is_built` checked only config.json, so the qwen2 kind's new tool-calling chat
template would never have reached a developer's or CI's existing ~/.cache/modelyard/models. These
tests drive the stamp logic and build.py's swap with a fake builder: no engine python needed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import get_args

import pytest

from tinymodels import build, catalog, recipes
from tinymodels.dims import Dims


def model_folder(path: Path, stamp: dict[str, object] | None) -> Path:
    """A folder that looks like a finished build, stamped as given (None: built before stamps)."""
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "weights").write_text("old")
    if stamp is not None:
        (path / recipes.STAMP_FILE).write_text(json.dumps(stamp))
    return path


def test_every_kind_has_a_builder_default_dims_and_a_recipe() -> None:
    kinds = set(get_args(catalog.Kind))
    assert kinds == set(build.BUILDERS) == set(build.DEFAULT_DIMS) == set(recipes.RECIPES)
    assert {kind for kind, _ in catalog.CATALOG.values()} <= kinds


def test_catalog_seeds_are_distinct() -> None:
    seeds = [seed for _, seed in catalog.CATALOG.values()]
    assert len(seeds) == len(set(seeds))


def test_a_current_stamp_counts_as_built(tmp_path: Path) -> None:
    model_folder(tmp_path / "tiny-xlmr-embed", recipes.stamp("xlm-roberta", 6))
    assert catalog.is_built(tmp_path, "tiny-xlmr-embed")


@pytest.mark.parametrize(
    "stamp",
    [
        {"kind": "qwen2", "seed": 1, "recipe": recipes.RECIPES["qwen2"] - 1},  # older recipe
        {"kind": "qwen2", "seed": 2, "recipe": recipes.RECIPES["qwen2"]},  # other seed
        {"kind": "qwen2-vl", "seed": 1, "recipe": recipes.RECIPES["qwen2"]},  # other kind
    ],
)
def test_a_stamp_that_differs_is_stale(tmp_path: Path, stamp: dict[str, object]) -> None:
    model_folder(tmp_path / "tiny-qwen2-a", stamp)
    assert not catalog.is_built(tmp_path, "tiny-qwen2-a")


def test_an_unstamped_folder_counts_as_its_kinds_first_recipe(tmp_path: Path) -> None:
    """Built before stamps: qwen2 (recipe 2 now) is stale, whisper (still 1) is not rebuilt."""
    model_folder(tmp_path / "tiny-qwen2-a", None)
    model_folder(tmp_path / "tiny-whisper", None)
    assert recipes.RECIPES["qwen2"] > recipes.UNSTAMPED_RECIPE
    assert recipes.RECIPES["whisper"] == recipes.UNSTAMPED_RECIPE
    assert not catalog.is_built(tmp_path, "tiny-qwen2-a")
    assert catalog.is_built(tmp_path, "tiny-whisper")


@pytest.mark.parametrize("stamp_text", ["not json", "[1, 2]"])
def test_an_unreadable_stamp_is_stale(tmp_path: Path, stamp_text: str) -> None:
    folder = model_folder(tmp_path / "tiny-whisper", None)
    (folder / recipes.STAMP_FILE).write_text(stamp_text)
    assert not catalog.is_built(tmp_path, "tiny-whisper")


def test_a_stamp_without_config_json_is_not_built(tmp_path: Path) -> None:
    folder = model_folder(tmp_path / "tiny-whisper", recipes.stamp("whisper", 4))
    (folder / "config.json").unlink()
    assert not catalog.is_built(tmp_path, "tiny-whisper")


@pytest.fixture
def fake_builder(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replaces the qwen2 builder with one that writes a marker file; returns the folders built."""
    built: list[str] = []

    def fake(dims: Dims, seed: int, path: str) -> None:
        Path(path, "config.json").write_text("{}")
        Path(path, "weights").write_text(f"new seed {seed}")
        built.append(path)

    monkeypatch.setitem(build.BUILDERS, "qwen2", fake)
    return built


def run_build(out: Path, seed: int = 1) -> int:
    return build.main(["--out", str(out), "--kind", "qwen2", "--seed", str(seed)])


def test_a_stale_model_is_rebuilt_and_swapped_in(tmp_path: Path, fake_builder: list[str]) -> None:
    out = model_folder(tmp_path / "tiny-qwen2-a", None)
    assert run_build(out) == 0
    assert (out / "weights").read_text() == "new seed 1"
    assert recipes.is_current(str(out), "qwen2", 1)
    assert sorted(os.listdir(tmp_path)) == ["tiny-qwen2-a"]  # no .tmp-/.old- left behind
    assert len(fake_builder) == 1


def test_a_current_model_is_left_alone(
    tmp_path: Path, fake_builder: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = model_folder(tmp_path / "tiny-qwen2-a", recipes.stamp("qwen2", 1))
    assert run_build(out) == 0
    assert capsys.readouterr().out.strip() == "exists"
    assert (out / "weights").read_text() == "old"
    assert fake_builder == []


def test_a_first_build_lands_stamped(tmp_path: Path, fake_builder: list[str]) -> None:
    out = tmp_path / "models" / "tiny-qwen2-b"
    out.parent.mkdir()
    assert run_build(out, seed=2) == 0
    stamp = json.loads((out / recipes.STAMP_FILE).read_text())
    assert stamp == {"kind": "qwen2", "seed": 2, "recipe": recipes.RECIPES["qwen2"]}


def test_a_folder_that_holds_no_model_is_not_replaced(
    tmp_path: Path, fake_builder: list[str]
) -> None:
    """It may be anything the user put there: refuse rather than delete it."""
    out = tmp_path / "tiny-qwen2-a"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert run_build(out) == 2
    assert (out / "notes.txt").read_text() == "mine"
    assert fake_builder == []


def test_a_failed_build_keeps_the_stale_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(dims: Dims, seed: int, path: str) -> None:
        raise RuntimeError("no torch")

    monkeypatch.setitem(build.BUILDERS, "qwen2", broken)
    out = model_folder(tmp_path / "tiny-qwen2-a", None)
    assert run_build(out) == 1
    assert (out / "weights").read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["tiny-qwen2-a"]


def test_install_yields_to_a_concurrent_build_that_won(tmp_path: Path) -> None:
    """Another builder swapped its current model in first: ours is dropped, theirs stays."""
    out = model_folder(tmp_path / "m", None)  # stale
    tmp = model_folder(tmp_path / "m.tmp-1", recipes.stamp("qwen2", 1))
    real_rename = os.rename
    calls: list[tuple[str, str]] = []

    def racing_rename(src: str, dst: str) -> None:
        calls.append((src, dst))
        real_rename(src, dst)
        if len(calls) == 1:  # right after we move `out` aside, they rename their build in
            model_folder(Path(src), recipes.stamp("qwen2", 1))
            (Path(src) / "weights").write_text("theirs")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "rename", racing_rename)
        assert build.install(str(tmp), str(out), "qwen2", 1) is False
    assert (out / "weights").read_text() == "theirs"
    assert not Path(f"{out}.old-{os.getpid()}").exists()
