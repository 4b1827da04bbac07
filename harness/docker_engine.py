"""A real Docker engine for the container tests: Debian's dockerd with its own data root, exec
root and socket, and a small base image made locally (no registry is reachable here).

`start` tries the overlay2 storage driver first (measured here: `docker run` of the base image
in 1.3 s) and falls back to vfs (works on any file system, overlay included, but copies the
whole image for each container: 13 s a run) when the daemon will not start or a trivial
container will not run. Everything the engine makes lives under one short folder in /tmp (a
unix socket path may hold 108 bytes, and containerd's socket sits under the exec root); the
daemon's log goes to the caller's `work` folder, so it outlives the engine for a post-mortem.

`stop` leaves nothing behind: containers, dockerd and its containerd, mounts, the folder. A
test run stopped by SIGTERM unwinds as if interrupted (so the session fixture's `finally`
runs), one killed outright takes dockerd with it (PR_SET_PDEATHSIG), and the next `start`
clears what such a run left.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import psutil

from harness import base_image, mounts

BASE_IMAGE = "local/base:bookworm"
DRIVERS = ("overlay2", "vfs")
READY_TIMEOUT = 60.0  # dockerd answers its socket in ~1 s here
STOP_GRACE = 20.0
PREFIX = "mydk-"
# Our own containerd namespaces: where a system containerd runs, dockerd uses it instead of
# starting its own, and these keep our containers apart from the system dockerd's ("moby").
NAMESPACE = "modelyard-test"


class EngineUnavailable(Exception):
    """The engine could not be started here; the message says why (the tests print it)."""


@dataclass(frozen=True)
class Engine:
    host: str  # "unix:///.../docker.sock": DOCKER_HOST for the CLI, base_url for the SDK
    base_image: str  # a local image with python3, and the libraries the host's venvs need
    root: Path | None  # what start() made (removed by stop()); None for an engine from_env()
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    driver: str = ""  # the storage driver start() settled on


def from_env() -> Engine | None:
    """An engine already running, named by MODELYARD_TEST_DOCKER_HOST (a developer's loop:
    its base image must already be there); None when unset."""
    host = os.environ.get("MODELYARD_TEST_DOCKER_HOST")
    if not host:
        return None
    return Engine(host, os.environ.get("MODELYARD_TEST_BASE_IMAGE", BASE_IMAGE), None)


def docker(
    engine: Engine, *args: str, timeout: float = 120.0, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """The docker CLI against this engine; raises CalledProcessError (with stderr) if `check`.
    Builds use the classic builder: Debian's dockerd 20.10 comes without buildx, and the classic
    builder's `--network host` is what lets a RUN step reach PyPI here."""
    return subprocess.run(
        ["docker", "-H", engine.host, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )


def start(work: Path) -> Engine:
    """A running engine holding BASE_IMAGE; raises EngineUnavailable saying why not."""
    _check_prerequisites()
    _sweep_stale()
    try:  # before any daemon runs: a cold build takes a minute
        tarball = base_image.tarball()
    except (base_image.BaseImageError, OSError, subprocess.SubprocessError) as exc:
        raise EngineUnavailable(f"no base image: {exc}") from exc
    failures = []
    for driver in DRIVERS:
        try:
            engine = _launch(work, driver)
        except _DriverFailed as exc:
            failures.append(f"{driver}: {exc}")
            continue
        try:
            _import_base(engine, tarball)
            docker(engine, "run", "--rm", "--network", "none", engine.base_image, "true")
        except (subprocess.SubprocessError, OSError) as exc:
            failures.append(f"{driver}: {_reason(exc)}\n{_tail(work / f'dockerd-{driver}.log')}")
            stop(engine)
            continue
        _stop_on_exit(engine)
        return engine
    raise EngineUnavailable("dockerd would not run a container:\n" + "\n".join(failures))


def stop(engine: Engine) -> None:
    """Remove every container, stop dockerd, unmount and remove its roots. Idempotent; safe on
    a dockerd that already died; a no-op for an engine from_env() (not ours)."""
    if engine.root is None:
        return
    proc = engine.process
    if proc is not None and proc.poll() is None:
        _remove_containers(engine)
        proc.terminate()
        try:
            proc.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    _kill_leftovers(engine.root)
    _clear(engine.root)


class _DriverFailed(Exception):
    pass


def _check_prerequisites() -> None:
    if os.geteuid() != 0:
        raise EngineUnavailable(f"dockerd needs root (running as uid {os.geteuid()})")
    for tool, package in (("dockerd", "docker.io"), ("docker", "docker.io")):
        if shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
            raise EngineUnavailable(
                f"{tool} is not installed (`apt-get install {package}`; make setup does)"
            )


def _launch(work: Path, driver: str) -> Engine:
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir="/tmp"))
    (root / "owner").write_text(str(os.getpid()))  # for _sweep_stale, should we die
    # An empty config file: /etc/docker/daemon.json, if the host has one, may set the same
    # options as our flags (dockerd then refuses to start) or point at the system's roots.
    (root / "daemon.json").write_text("{}")
    sock = root / "docker.sock"
    argv = [
        shutil.which("dockerd", path=os.environ.get("PATH", "") + ":/usr/sbin") or "dockerd",
        f"--config-file={root / 'daemon.json'}",
        f"--data-root={root / 'data'}",
        f"--exec-root={root / 'exec'}",
        f"--host=unix://{sock}",
        f"--pidfile={root / 'docker.pid'}",
        f"--storage-driver={driver}",
        "--iptables=false",
        "--bridge=none",
        # its own cgroup parent, which stop() removes (the default, /docker, is shared and stays)
        f"--cgroup-parent=/{root.name}",
        f"--containerd-namespace={NAMESPACE}",
        f"--containerd-plugins-namespace={NAMESPACE}-plugins",
    ]
    log_path = work / f"dockerd-{driver}.log"
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before the fork
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C to the test run reaches us, and we stop it
            preexec_fn=lambda: prctl(1, signal.SIGTERM),  # PR_SET_PDEATHSIG: die with us
        )
    engine = Engine(f"unix://{sock}", BASE_IMAGE, root, proc, driver)
    deadline = time.monotonic() + READY_TIMEOUT
    while not _answers(sock):
        if proc.poll() is not None or time.monotonic() > deadline:
            why = f"exited {proc.returncode}" if proc.poll() is not None else "never answered"
            stop(engine)
            raise _DriverFailed(f"dockerd {why}:\n{_tail(log_path)}")
        time.sleep(0.05)
    return engine


def _answers(sock: Path) -> bool:
    """dockerd's GET /_ping, over the unix socket, answers 200."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(2.0)
            conn.connect(str(sock))
            conn.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return conn.recv(64).split(b" ")[1:2] == [b"200"]
    except OSError:
        return False


def _import_base(engine: Engine, tarball: Path) -> None:
    docker(
        engine,
        "import",
        "--change",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--change",
        "ENV LANG=C.UTF-8",
        "--change",
        'CMD ["bash"]',
        str(tarball),
        engine.base_image,
        timeout=300.0,
    )


def _remove_containers(engine: Engine) -> None:
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        ids = docker(engine, "ps", "--all", "--quiet", timeout=30.0).stdout.split()
        if ids:
            docker(engine, "rm", "--force", "--volumes", *ids, timeout=120.0)


def _kill_leftovers(root: Path) -> None:
    """Processes that name our roots on their command line (containerd, shims): what a dockerd
    killed with SIGKILL leaves. A shim's containers go first, or they would be orphaned."""
    mark = f"{root}/"
    for proc in psutil.process_iter(["cmdline"]):
        if any(mark in arg for arg in proc.info["cmdline"] or []):
            with contextlib.suppress(psutil.Error):
                for victim in [*proc.children(recursive=True), proc]:
                    victim.kill()
                psutil.wait_procs([proc], timeout=10)


def _clear(root: Path) -> None:
    left = mounts.unmount_under(root)
    if left:
        raise RuntimeError(f"still mounted under {root}: {left}")
    if root.exists():
        shutil.rmtree(root)
    _remove_cgroups(root.name)


def _remove_cgroups(parent: str) -> None:
    """The engine's cgroup parent in every hierarchy (v1: one per controller; v2: one), deepest
    first. A cgroup whose last task is still exiting refuses rmdir for a moment: retried."""
    tops = [Path("/sys/fs/cgroup", parent), *Path("/sys/fs/cgroup").glob(f"*/{parent}")]
    dirs = [d for top in tops if top.is_dir() for d, _, _ in os.walk(top, topdown=False)]
    deadline = time.monotonic() + 5.0
    while dirs and time.monotonic() < deadline:
        for path in list(dirs):
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass
            except OSError:
                continue
            dirs.remove(path)
        if dirs:
            time.sleep(0.05)


def _sweep_stale() -> None:
    """Roots that a killed test run left: their owner is gone. Its dockerd normally died with
    it (PR_SET_PDEATHSIG); if not, it goes now, with its mounts and folder."""
    for root in Path("/tmp").glob(PREFIX + "*"):
        try:
            owner = int((root / "owner").read_text())
        except (OSError, ValueError):
            continue
        if owner == os.getpid() or psutil.pid_exists(owner):
            continue
        with contextlib.suppress(OSError, RuntimeError):
            _kill_leftovers(root)
            _clear(root)


def _stop_on_exit(engine: Engine) -> None:
    """A run that ends without the fixture's `finally` still stops the engine; a SIGTERM (a CI
    timeout, a cancelled job) unwinds like Ctrl-C, so pytest tears its fixtures down."""
    atexit.register(stop, engine)
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    ):
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        return f"{' '.join(map(str, exc.cmd[3:5]))} exited {exc.returncode}: {exc.stderr}"
    return str(exc)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
