"""A tiny model's size, as build.py's flags set it: every builder takes one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dims:
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int

    def check(self) -> None:
        if self.hidden % self.heads or self.heads % self.kv_heads:
            raise ValueError("--hidden must divide by --heads, and --heads by --kv-heads")
