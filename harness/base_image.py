"""The container tests' base image, made here from nothing: no registry is reachable on these
machines, Debian's mirror is. `debootstrap --variant=minbase` builds a rootfs holding python3
(with venv) and the shared libraries the host's venvs load, which is tarred once and cached.

The tarball is cached under MODELYARD_HOME (`~/.cache/modelyard/docker/`), named by a hash of
the recipe (suite, variant, packages): a changed recipe builds a new one, and every checkout on
the machine shares it. A build runs in a temporary folder beside the cache, under a lock, and
only a finished tarball is renamed into place, so a run killed mid-build never leaves half a
cache entry. Measured on the 2-core machine: debootstrap ~60 s, the tar ~3 s (about 270 MB).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from harness import mounts
from supervisor import paths

SUITE = "bookworm"
VARIANT = "minbase"
# python3 for modelyard itself; the libraries a venv's compiled wheels link against (ssl, ffi,
# compression, sqlite, readline, ncurses, uuid, OpenMP, NUMA, expat), so a host venv's packages
# also run inside a container of this image.
PACKAGES = (
    "python3",
    "python3-venv",
    "ca-certificates",
    "libssl3",
    "libffi8",
    "libbz2-1.0",
    "liblzma5",
    "libsqlite3-0",
    "libreadline8",
    "zlib1g",
    "libncursesw6",
    "libuuid1",
    "libgomp1",
    "libnuma1",
    "libexpat1",
)
# debootstrap's own figure here is ~60 s; a slow mirror gets ten times that before we give up.
BUILD_TIMEOUT = 900.0


class BaseImageError(Exception):
    """The rootfs could not be built (no debootstrap, no mirror); the message says why."""


def recipe_key() -> str:
    recipe = {"suite": SUITE, "variant": VARIANT, "packages": sorted(PACKAGES)}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def cache_dir() -> Path:
    return paths.home() / "docker"


def tarball(cache: Path | None = None) -> Path:
    """The rootfs tarball for this recipe, built on first use (root and debootstrap needed)."""
    folder = cache or cache_dir()
    target = folder / f"base-{SUITE}-{recipe_key()}.tar"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / ".build.lock"):
        if target.exists():  # another run built it while this one waited
            return target
        _sweep_builds(folder)
        build = Path(tempfile.mkdtemp(prefix="build-", dir=folder))
        try:
            rootfs = build / "rootfs"
            _debootstrap(rootfs, build / "debootstrap.log")
            part = build / "base.tar"
            # --numeric-owner: the rootfs holds root-owned device nodes and system users whose
            # names the host may map to other ids.
            _run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(part), "."], 300.0)
            os.replace(part, target)  # same file system: atomic
        finally:
            remove_tree(build)
    return target


def remove_tree(path: Path) -> None:
    """rm -rf that first unmounts what is mounted inside (a killed debootstrap leaves /proc
    and /sys mounted in its target)."""
    if not path.exists():
        return
    mounts.unmount_under(path)
    shutil.rmtree(path)


def _debootstrap(rootfs: Path, log: Path) -> None:
    if shutil.which("debootstrap") is None:
        raise BaseImageError(
            "debootstrap is not installed (`apt-get install debootstrap`; make setup does)"
        )
    argv = [
        "debootstrap",
        f"--variant={VARIANT}",
        "--include=" + ",".join(PACKAGES),
        SUITE,
        str(rootfs),
    ]
    with log.open("wb") as out:
        try:
            done = subprocess.run(
                argv, stdout=out, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise BaseImageError(f"debootstrap took over {BUILD_TIMEOUT:.0f} s") from exc
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise BaseImageError(f"debootstrap exited {done.returncode}:\n" + "\n".join(tail))


def _run(argv: list[str], timeout: float) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise BaseImageError(f"{argv[0]} exited {done.returncode}: {done.stderr.strip()[-2000:]}")


def _sweep_builds(folder: Path) -> None:
    """Builds that a killed run left behind. Only the lock holder builds, so under the lock
    every build folder belongs to a run that is gone."""
    for stale in folder.glob("build-*"):
        remove_tree(stale)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released by the kernel if this process dies
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
