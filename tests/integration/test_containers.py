"""Container servers (`launcher: docker`) on a real Docker engine.

Through the real supervisor and proxy: a tiny vLLM in a container serves a chat and its output
reaches the server's log; a supervisor restart adopts the running container; a container killed
from outside is restarted and one that keeps exiting ends `failed` with its code and last lines;
strays of ours are swept while nobody else's containers are touched; unload removes the
container; a missing image or a down engine is a prompt 503 naming it. Straight on the
launcher: a start cancelled mid-creation leaves no container, the output follows a rotated log,
adoption checks labels and fingerprint, an engine that does not answer fails within api_timeout.

The test engine runs with --bridge=none (harness/docker_engine.py): every container uses the
host's network. Containers run this machine's interpreters, bind-mounted read-only at the same
paths: the Python prefixes, the checkout, the engine venv and the tiny models. The tiny vLLM runs
with --enforce-eager: the base image has no C++ compiler for torch.compile's CPU backend.
The failure paths use harness/fake_vllm.py (a controllable responder, labelled as such): real
vLLM cannot be made to exit with a chosen code on cue, and each of its starts costs a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from harness.docker_engine import Engine
from harness.stack import (
    FAKE_VLLM,
    Stack,
    free_port,
    running_stack,
    stack_config,
    wait_for,
)
from modelyard_config import parse_config
from modelyard_config.supervisor import DockerSettings
from supervisor import paths, statefile
from supervisor.command import (
    LABEL_INSTANCE,
    LABEL_MANAGED,
    LABEL_SERVER,
    LaunchFacts,
    LaunchSpec,
    render,
)
from supervisor.docker_launcher import DockerLauncher
from supervisor.errors import LaunchError

pytestmark = pytest.mark.integration

TEST_LABEL = "org.modelyard-tests.run"  # on every container a test makes by hand: cleanup
MISSING_IMAGE = "modelyard.invalid/no-such-image:1"  # .invalid never resolves: no registry


def host_paths() -> list[str]:
    """What a container needs to run this machine's Pythons at the same paths: the prefixes
    (venvs link into them), the checkout (harness/), the engine venv and the models."""
    engine_python = paths.engine_python()
    wanted = {
        Path(sys.base_prefix),
        Path(sys.prefix),
        paths.project_root(),
        engine_python.parent.parent,
        engine_python.resolve().parent.parent,
        paths.models_dir(),
    }
    wanted = {p for p in wanted if p.exists()}  # a bind of a missing source fails the start
    return sorted(str(p) for p in wanted if not any(p != q and p.is_relative_to(q) for q in wanted))


def container_server(image: str, command: list[str], **spec: Any) -> dict[str, Any]:
    return {
        "model": "fake",
        "launcher": "docker",
        "command": command,
        "container": {
            "image": image,
            "network": "host",  # the test engine has no bridge
            "volumes": [f"{p}:{p}:ro" for p in host_paths()],
            "pull": "never",
            "gpus": False,
        },
        "startup_timeout": 30,
        "stop_grace": 1,  # fake_vllm as pid 1 ignores SIGTERM: killed after this
        "gpu_memory_gb": 0.1,
        **spec,
    }


def fake(image: str, *flags: str, **spec: Any) -> dict[str, Any]:
    return container_server(image, [sys.executable, FAKE_VLLM, "--port", "{port}", *flags], **spec)


def ours(client: Any, instance: str, **labels: str) -> list[Any]:
    """This run's containers in every state (optionally of one server)."""
    wanted = [f"{LABEL_INSTANCE}={instance}", *(f"{k}={v}" for k, v in labels.items())]
    return list(client.containers.list(all=True, filters={"label": wanted}))


def exists(client: Any, container_id: str) -> bool:
    return bool(client.containers.list(all=True, filters={"id": container_id}))


def remove_all(client: Any, instance: str) -> None:
    for label in (f"{LABEL_INSTANCE}={instance}", f"{TEST_LABEL}={instance}"):
        for container in client.containers.list(all=True, filters={"label": label}):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                container.remove(force=True)


@pytest.fixture(scope="module")
def instance() -> str:
    return f"it{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def client(docker_engine: Engine, instance: str) -> Iterator[Any]:
    """The test's own view of the engine; on leaving, every container of this run is gone."""
    engine_client = docker.DockerClient(base_url=docker_engine.host, timeout=60)
    try:
        yield engine_client
    finally:
        remove_all(engine_client, instance)
        engine_client.close()


# -- straight on the launcher -------------------------------------------------------------------


async def until(predicate: Callable[[], object], what: str, timeout: float = 30) -> None:
    """wait_for inside a test's event loop: polls without blocking the launcher's callbacks."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


def launch_spec(engine: Engine, instance: str, name: str, command: list[str]) -> LaunchSpec:
    server = container_server(engine.base_image, command)
    config = parse_config({"servers": {name: server}, "routes": {"agent": [name]}})
    facts = LaunchFacts(
        host="127.0.0.1",
        port=free_port(),
        engine_python=str(paths.engine_python()),
        models_dir=str(paths.models_dir()),
        instance=instance,
    )
    return render(config, name, facts)


Make = Callable[..., DockerLauncher]


@pytest.fixture
def launcher(docker_engine: Engine, instance: str) -> Iterator[Make]:
    """make(of_instance, **DockerSettings): launchers closed after the test, and then no thread
    of theirs may be left (close() ends the watchers; every call has returned)."""
    made: list[DockerLauncher] = []

    def make(of_instance: str = instance, **settings: Any) -> DockerLauncher:
        settings.setdefault("host", docker_engine.host)
        made.append(DockerLauncher(DockerSettings(**settings), of_instance))
        return made[-1]

    yield make
    for each in made:
        asyncio.run(each.close())
    wait_for(
        lambda: not [t for t in threading.enumerate() if t.name.startswith("modelyard-docker")],
        5,
        "the launchers' threads to end",
    )


async def test_a_start_cancelled_while_creating_leaves_no_container(
    docker_engine: Engine,
    instance: str,
    client: Any,
    launcher: Make,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = launch_spec(docker_engine, instance, "cancelled", ["sleep", "600"])
    containers = launcher()
    outcomes = []
    caplog.set_level(logging.INFO, "modelyard.supervisor")
    # A start takes ~0.3 s on overlay2 (measured; much longer on vfs, where every one of these
    # lands mid-creation): these cancel before, during and after the create-and-start call.
    for delay in (0.0, 0.02, 0.08, 0.15, 0.25, 0.5):
        task = asyncio.create_task(containers.start(spec, tmp_path / "cancelled.log"))
        await asyncio.sleep(delay)
        task.cancel()
        [result] = await asyncio.gather(task, return_exceptions=True)
        if isinstance(result, asyncio.CancelledError):
            outcomes.append("cancelled")
            assert ours(client, instance, **{LABEL_SERVER: "cancelled"}) == [], delay
        else:
            outcomes.append("started")
            assert await result.stop(0) is not None
            assert not exists(client, result.container_id)
    assert "its start was cancelled" in caplog.text, f"no cancel hit a creation: {outcomes}"


async def test_a_container_gets_its_own_env_and_the_passed_host_variables_only(
    docker_engine: Engine, instance: str, client: Any, tmp_path: Path
) -> None:
    """supervisor.docker.env_passthrough (default: the hub tokens) and the server's `env`;
    never the supervisor's own secrets or its PATH."""
    spec = launch_spec(docker_engine, instance, "envy", ["sh", "-c", "env; sleep 60"])
    spec = replace(spec, env={"SERVER_OWN": "yes"})
    host = {"HF_TOKEN": "hf_passed", "MODELYARD_ADMIN_TOKEN": "secret", "PATH": "/nowhere"}
    launcher = DockerLauncher(DockerSettings(host=docker_engine.host), instance, host)
    log = tmp_path / "envy.log"
    handle = await launcher.start(spec, log)
    try:
        await until(lambda: b"SERVER_OWN=yes" in log.read_bytes(), "the container's env")
        text = log.read_text()
        assert "HF_TOKEN=hf_passed" in text
        assert "secret" not in text and "PATH=/nowhere" not in text
    finally:
        await handle.stop(1)
        await launcher.close()
    assert not exists(client, handle.container_id)


async def test_output_follows_a_log_file_truncated_or_renamed_under_it(
    docker_engine: Engine, instance: str, client: Any, launcher: Make, tmp_path: Path
) -> None:
    ticker = ["sh", "-c", "i=0; while :; do echo tick$i; i=$((i+1)); sleep 0.05; done"]
    spec = launch_spec(docker_engine, instance, "ticker", ticker)
    log = tmp_path / "ticker.log"
    handle = await launcher().start(spec, log)
    await until(lambda: b"tick5\n" in log.read_bytes(), "the output in the log")
    os.truncate(log, 0)  # server_logs.rotate: copy, then truncate
    await until(lambda: log.read_bytes().count(b"\n") >= 3, "output after the truncate")
    assert log.read_bytes().startswith(b"tick"), "written at the new end, not behind a hole"
    os.replace(log, tmp_path / "ticker.log.1")  # a rotation by rename
    await until(lambda: log.exists() and b"tick" in log.read_bytes(), "a new file")
    assert await handle.stop(1) == 137, "sh as pid 1 ignores SIGTERM: killed after the grace"
    assert not exists(client, handle.container_id)


async def test_adopt_takes_only_a_running_container_of_ours_with_its_fingerprint(
    docker_engine: Engine, instance: str, client: Any, launcher: Make, tmp_path: Path
) -> None:
    spec = launch_spec(docker_engine, instance, "adoptee", ["sleep", "600"])
    log = tmp_path / "adoptee.log"
    first = launcher()
    handle = await first.start(spec, log)
    await first.close()  # a supervisor leaving it running

    def record(container_id: str | None, fingerprint: str) -> statefile.Record:
        return statefile.Record(
            "adoptee", handle.pid, 1, spec.argv, [], 0.0, False, fingerprint, container_id
        )

    right = record(handle.container_id, spec.fingerprint())
    second = launcher()
    stranger = launcher(f"{instance}x")
    assert await second.adopt(record(handle.container_id, "0" * 16), log) is None
    assert await second.adopt(record("f" * 64, spec.fingerprint()), log) is None
    assert await stranger.adopt(right, log) is None, "another instance's"
    adopted = await second.adopt(right, log)
    assert adopted is not None and adopted.container_id == handle.container_id
    assert adopted.pid == handle.pid and adopted.members()
    assert await stranger.sweep([]) == [], "not its own"
    assert await second.sweep([adopted]) == [], "adopted: kept"
    client.containers.get(handle.container_id).kill()
    assert await asyncio.wait_for(adopted.wait(), 10) == 137, "its exit code, from the engine"
    assert not exists(client, handle.container_id), "removed once it exited"


async def test_stop_after_close_still_reads_the_code_and_removes_the_container(
    docker_engine: Engine, instance: str, client: Any, launcher: Make, tmp_path: Path
) -> None:
    spec = launch_spec(docker_engine, instance, "closed", ["sh", "-c", "sleep 600 & wait"])
    containers = launcher()
    handle = await containers.start(spec, tmp_path / "closed.log")
    await containers.close()  # its watcher is gone
    assert await handle.stop(1) == 137 and handle.exited
    assert not exists(client, handle.container_id)


async def test_an_engine_that_does_not_answer_fails_within_api_timeout(
    docker_engine: Engine, instance: str, launcher: Make, tmp_path: Path
) -> None:
    path = tmp_path / "mute.sock"
    with socket.socket(socket.AF_UNIX) as mute:
        mute.bind(str(path))
        mute.listen(8)  # connections are accepted (by the kernel), never answered
        containers = launcher(host=f"unix://{path}", api_timeout=1)
        spec = launch_spec(docker_engine, instance, "mute", ["true"])
        record = statefile.Record("mute", 1, 1, [], [], 0.0, container_id="f" * 64)
        began = time.monotonic()
        with pytest.raises(LaunchError, match=f"the Docker engine at unix://{path} is not"):
            await containers.start(spec, tmp_path / "mute.log")
        assert await containers.sweep([]) == []
        assert await containers.adopt(record, tmp_path / "mute.log") is None
        assert time.monotonic() - began < 10, "no call waits past api_timeout"


class StallingEngine(BaseHTTPRequestHandler):
    """A Docker engine that lacks every image and stalls a pull after its first line: what a
    registry gone quiet looks like to the SDK, which sends a pull without a read timeout. A
    double, used because the real engine cannot be made to stall on cue."""

    protocol_version = "HTTP/1.1"
    release = threading.Event()  # set: the stalled pull ends (its connection closes)

    def address_string(self) -> str:
        return "unix"

    def log_message(self, fmt: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        found = self.path.endswith("/version")
        body = json.dumps({"ApiVersion": "1.41"} if found else {"message": "No such image"})
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def do_POST(self) -> None:  # /images/create: one progress line, then silence
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        line = b'{"status": "Pulling fs layer"}\r\n'
        self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
        self.wfile.flush()
        self.release.wait(30)
        self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True


async def test_a_pull_that_stalls_is_given_up_after_api_timeout(
    docker_engine: Engine, instance: str, launcher: Make, tmp_path: Path
) -> None:
    path = tmp_path / "stalling.sock"

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    with Server(str(path), StallingEngine) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        spec = launch_spec(docker_engine, instance, "pulled", ["true"])
        assert spec.container is not None
        spec = replace(
            spec, container=replace(spec.container, image="some/image:1", pull="missing")
        )
        began = time.monotonic()
        try:
            with pytest.raises(LaunchError, match=r"image some/image:1 could not be pulled: .*"):
                await launcher(host=f"unix://{path}", api_timeout=1).start(spec, tmp_path / "p")
            assert time.monotonic() - began < 10
        finally:
            StallingEngine.release.set()
            server.shutdown()


# -- through the supervisor and the proxy -------------------------------------------------------


class Restartable:
    """One `modelyard up` for the module, restartable on the same state directory."""

    def __init__(self, tmp: Path, config: dict[str, Any]) -> None:
        self.tmp = tmp
        self.config = config
        self.runs = 0
        self._stack: contextlib.AbstractContextManager[Stack] | None = None
        self.stack = self._start()

    def _start(self) -> Stack:
        self.runs += 1
        folder = self.tmp / f"run{self.runs}"
        folder.mkdir()
        self._stack = running_stack(folder, self.config)
        return self._stack.__enter__()

    def restart(self) -> None:
        """SIGTERM (keep_servers leaves ready containers running), then a new supervisor."""
        self.stack.proc.send_signal(signal.SIGTERM)
        assert self.stack.proc.wait(timeout=60) == 0, self.stack.log()[-3000:]
        self.close()
        self.stack = self._start()

    def previous_log(self) -> str:
        return (self.tmp / f"run{self.runs - 1}" / "up.log").read_text(errors="replace")

    def close(self) -> None:
        if self._stack is not None:
            self._stack.__exit__(None, None, None)
            self._stack = None


@pytest.fixture(scope="module")
def up(
    docker_engine: Engine, instance: str, client: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Restartable]:
    tmp = tmp_path_factory.mktemp("containers")
    image = docker_engine.base_image
    config = stack_config(tmp / "state")
    defaults = config["supervisor"]["defaults"]
    config["servers"].update(
        {
            "ctr-qwen": container_server(
                image,
                [*defaults["command"], "--enforce-eager"],
                model="{models_dir}/tiny-qwen2-a",
                env=dict(defaults["env"]),  # a container gets its own env only
                startup_timeout=240,
                stop_grace=10,
                gpu_memory_gb=2,
            ),
            "ctr-steady": fake(image),
            "ctr-flaky": fake(image, "--die-after", "2", "--exit-code", "7"),  # once ready
            "ctr-never": fake(image),
            "ctr-nopull": fake(image),
        }
    )
    config["servers"]["ctr-never"]["container"].update(image=MISSING_IMAGE, pull="never")
    config["servers"]["ctr-nopull"]["container"].update(image=MISSING_IMAGE, pull="missing")
    config["supervisor"].update(
        keep_servers=True,
        docker={"host": docker_engine.host, "instance": instance},
        health={"max_restarts": 2, "backoff_initial": 0.2, "backoff_max": 0.5},
    )
    running = Restartable(tmp, config)
    try:
        yield running
    finally:
        running.close()
        remove_all(client, instance)


def chat(stack: Stack, model: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    return httpx.post(f"{stack.proxy_url}/v1/chat/completions", json=body, timeout=300)


def test_a_container_server_serves_a_chat_through_the_proxy(
    up: Restartable, client: Any, instance: str
) -> None:
    stack = up.stack
    reply = stack.openai().chat.completions.with_raw_response.create(
        model="ctr-qwen", messages=[{"role": "user", "content": "hello"}], max_tokens=3
    )
    assert reply.headers["x-modelyard-model"] == "ctr-qwen"
    assert reply.parse().choices[0].message.content is not None
    info = stack.server("ctr-qwen")
    assert info["state"] == "ready" and info["container_id"]
    container = client.containers.get(info["container_id"])
    assert container.status == "running"
    assert container.labels[LABEL_MANAGED] == "1"
    assert container.labels[LABEL_INSTANCE] == instance
    assert container.labels[LABEL_SERVER] == "ctr-qwen"
    assert container.attrs["State"]["Pid"] == info["pid"], "the host's pid of its init"

    ps = stack.cli("ps", "--json")
    assert ps.returncode == 0, ps.stderr
    listed = next(s for s in json.loads(ps.stdout) if s["name"] == "ctr-qwen")
    assert listed["container_id"] == info["container_id"]
    assert listed["image"] == stack.config["servers"]["ctr-qwen"]["container"]["image"]
    assert listed["memory_bytes"] > 100 * 2**20, "its processes seen from the host"

    logs = httpx.get(f"{stack.admin_url}/servers/ctr-qwen/logs", timeout=10).json()["text"]
    assert "starting ctr-qwen" in logs, "the launcher's banner"
    assert "(APIServer pid=1)" in logs, "vLLM's own output, from inside its container"


def test_a_supervisor_restart_adopts_the_running_container(up: Restartable) -> None:
    assert up.stack.cli("load", "ctr-qwen").returncode == 0
    before = up.stack.server("ctr-qwen")
    up.restart()
    left = [line for line in up.previous_log().splitlines() if "for the next supervisor" in line]
    assert left and "ctr-qwen" in left[-1], "keep_servers left it running"
    now = up.stack.server("ctr-qwen")
    assert now["state"] == "ready", now
    assert (now["container_id"], now["pid"]) == (before["container_id"], before["pid"])
    assert now["starts"] == 0, "adopted, not started again"
    assert chat(up.stack, "ctr-qwen").status_code == 200


def test_the_sweep_removes_only_our_unrecorded_containers(
    up: Restartable, client: Any, instance: str, docker_engine: Engine
) -> None:
    def run(name: str, labels: dict[str, str]) -> Any:
        return client.containers.run(
            docker_engine.base_image,
            ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"],
            name=f"{instance}-{name}",
            labels={TEST_LABEL: instance, **labels},
            network_mode="none",
            detach=True,
        )

    foreign = run("foreign", {})
    other = run("other", {LABEL_MANAGED: "1", LABEL_INSTANCE: f"{instance}-other"})
    stray = run("stray", {LABEL_MANAGED: "1", LABEL_INSTANCE: instance, LABEL_SERVER: "ghost"})
    kept = up.stack.server("ctr-qwen")["container_id"]
    try:
        up.restart()
        assert not exists(client, stray.id), "ours, and no record names it"
        assert f"{instance}-stray (container {stray.id[:12]})" in up.stack.log()
        for untouched in (foreign, other):
            untouched.reload()
            assert untouched.status == "running", untouched.name
        assert up.stack.server("ctr-qwen")["container_id"] == kept
    finally:
        for container in (foreign, other, stray):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)


def test_a_container_killed_from_outside_is_restarted(up: Restartable, client: Any) -> None:
    stack = up.stack
    assert stack.cli("load", "ctr-steady").returncode == 0
    before = stack.server("ctr-steady")
    client.containers.get(before["container_id"]).kill()
    after = wait_for(
        lambda: (
            (s := stack.server("ctr-steady"))["state"] == "ready"
            and s["container_id"] not in (None, before["container_id"])
            and s
        ),
        30,
        "a new container to be ready",
    )
    assert after["starts"] == before["starts"] + 1
    assert not exists(client, before["container_id"]), "the killed one was removed"


def test_a_container_that_keeps_exiting_ends_failed_with_its_code_and_last_lines(
    up: Restartable, client: Any, instance: str
) -> None:
    stack = up.stack
    httpx.post(f"{stack.admin_url}/servers/ctr-flaky/ensure", timeout=60)
    failed = wait_for(
        lambda: (s := stack.server("ctr-flaky"))["state"] == "failed" and s["starts"] == 3 and s,
        60,
        "the start and its two restarts to fail",
    )
    assert failed["exit_code"] == 7, failed
    assert any("fake vLLM on" in line for line in failed["log_tail"]), failed["log_tail"]
    assert ours(client, instance, **{LABEL_SERVER: "ctr-flaky"}) == [], "no stale container"


def test_unload_removes_the_container(up: Restartable, client: Any, instance: str) -> None:
    stack = up.stack
    assert stack.cli("load", "ctr-qwen").returncode == 0
    container_id = stack.server("ctr-qwen")["container_id"]
    unloaded = stack.cli("unload", "ctr-qwen")
    assert unloaded.returncode == 0, unloaded.stderr
    assert not exists(client, container_id), "gone from `docker ps -a` once unload returns"
    assert stack.server("ctr-qwen")["state"] == "stopped"
    assert ours(client, instance, **{LABEL_SERVER: "ctr-qwen"}) == []


@pytest.mark.parametrize("server", ["ctr-never", "ctr-nopull"])
def test_a_missing_image_is_a_prompt_503_naming_it(up: Restartable, server: str) -> None:
    began = time.monotonic()
    reply = chat(up.stack, server)
    assert reply.status_code == 503, reply.text
    assert MISSING_IMAGE in reply.json()["error"]["message"]
    assert time.monotonic() - began < 30
    assert up.stack.server(server)["state"] == "failed"


def test_an_engine_that_is_down_is_a_prompt_503_naming_it(
    docker_engine: Engine, tmp_path: Path
) -> None:
    absent = f"unix://{tmp_path}/no-engine.sock"
    servers = {"ctr-down": fake(docker_engine.base_image)}
    config = stack_config(tmp_path / "state", servers, docker={"host": absent})
    with running_stack(tmp_path, config) as stack:
        began = time.monotonic()
        reply = chat(stack, "ctr-down")
        assert reply.status_code == 503, reply.text
        assert f"the Docker engine at {absent} is not reachable" in reply.json()["error"]["message"]
        assert time.monotonic() - began < 10
