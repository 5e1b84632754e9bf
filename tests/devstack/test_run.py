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
