"""Joining the packaged base model's halves: pure file work, no sidecar process."""

from __future__ import annotations

from pathlib import Path

from sidecars.stt.assemble import assemble


def test_split_model_is_joined_once_and_a_partial_one_replaced(tmp_path: Path) -> None:
    """The base model's halves: a crash mid-copy must never leave a loadable-looking model."""
    parts = [tmp_path / "model.bin.part1", tmp_path / "model.bin.part2"]
    parts[0].write_bytes(b"first-half|")
    parts[1].write_bytes(b"second-half")
    config = tmp_path / "config.json"
    config.write_text("{}")
    target = tmp_path / "cache" / "whisper-base-1.0.0"

    assert assemble(parts, [config], target) == target
    assert (target / "model.bin").read_bytes() == b"first-half|second-half"
    first_build = (target / "model.bin").stat().st_mtime_ns
    assemble(parts, [config], target)
    assert (target / "model.bin").stat().st_mtime_ns == first_build  # reused, not rebuilt

    (target / "model.bin").write_bytes(b"first-ha")  # as if an older copy was cut short
    assemble(parts, [config], target)
    assert (target / "model.bin").read_bytes() == b"first-half|second-half"
    assert sorted(p.name for p in target.parent.iterdir()) == ["whisper-base-1.0.0"]
