"""``make run``'s program: starts everything, prints where things are, and Ctrl-C leaves nothing
behind (every port free again); a taken port is named before anything starts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devstack.processes import ServiceError, port_is_free
from devstack.system import Ports

REPO = Path(__file__).resolve().parents[2]


def test_a_taken_port_is_named():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        ports = Ports.free()
        ports.webapp = taken
        with pytest.raises(ServiceError, match=f"webapp={taken}"):
            ports.check_free()


@pytest.mark.slow
@pytest.mark.bigquery
def test_make_run_starts_everything_and_ctrl_c_frees_every_port(tmp_path):
    ports = Ports.free()
    argv = [
        sys.executable,
        "-m",
        "devstack.run",
        "--workdir",
        str(tmp_path / "run"),
        "--rate",
        "20",
    ]
    for name, port in vars(ports).items():
        argv += [f"--{name.replace('_', '-')}-port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PUBSUB_", "BIGQUERY_"))}
    proc = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None  # stdout=PIPE
    output: list[str] = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Ctrl-C stops everything" in line:
                break
        text = "".join(output)
        assert "tote-realtime is running locally" in text, text
        assert f"http://127.0.0.1:{ports.webapp}/" in text
        assert "BIGQUERY_EMULATOR_HOST=http://127.0.0.1" in text and "Logs" in text
        assert not any(port_is_free(p) for p in vars(ports).values())
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        rest, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, rest
    assert "Stopped; all ports freed." in rest
    assert all(port_is_free(p) for p in vars(ports).values())
    assert (tmp_path / "run" / "logs" / "pipeline.log").exists()


def test_stop_once_raises_for_the_first_signal_only():
    from devstack.run import StopOnce

    said: list[str] = []
    stopping = StopOnce(say=said.append)
    with pytest.raises(KeyboardInterrupt):
        stopping.handler(signal.SIGINT, None)
    stopping.handler(signal.SIGTERM, None)  # during the stop: noted, not raised
    stopping.handler(signal.SIGINT, None)
    assert stopping.ignored == 2 and "already stopping" in said[0]


def test_a_signal_before_any_arrives_during_stop_is_only_noted():
    from devstack.run import StopOnce

    stopping = StopOnce(say=lambda _m: None)
    stopping.begin()  # the stop started for another reason (a service died)
    stopping.handler(signal.SIGTERM, None)
    assert stopping.ignored == 1


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_signals_during_the_stop_do_not_abort_it(tmp_path):
    """Ctrl-C, then SIGTERM and Ctrl-C again while stopping: every port free, no process left."""
    ports = Ports.free()
    argv = [sys.executable, "-m", "devstack.run", "--workdir", str(tmp_path / "run")]
    argv += ["--rate", "20", "--no-bigquery"]
    for name, port in vars(ports).items():
        argv += [f"--{name.replace('_', '-')}-port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PUBSUB_", "BIGQUERY_"))}
    proc = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None  # stdout=PIPE
    output: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Ctrl-C stops everything" in line:
                break
        assert "tote-realtime is running locally" in "".join(output), "".join(output)
        services = _descendants(proc.pid)
        assert len(services) >= 4
        proc.send_signal(signal.SIGINT)
        while "Stopping" not in (line := proc.stdout.readline()):
            assert line, "".join(output)
            output.append(line)
        proc.send_signal(signal.SIGTERM)  # while system.stop() runs
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, rest
    assert "already stopping" in rest and "Stopped; all ports freed." in rest
    assert all(port_is_free(p) for p in vars(ports).values())
    assert not [pid for pid in services if _alive(pid)]
