"""Real services on 127.0.0.1 for tests: started as subprocesses, stopped by their PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"service exited early with code {proc.returncode}: {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.3)
    raise TimeoutError(f"service did not answer {url} within {timeout}s")


def start(cmd: list[str], health_url: str, log_path: Path, timeout: float = 60, env: dict | None = None):
    log = open(log_path, "wb")  # noqa: SIM115 - the service writes to it for as long as it runs
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **(env or {})}
    )
    try:
        wait_http(health_url, timeout, proc)
    except Exception:
        stop(proc)
        raise RuntimeError(f"{cmd[0]} failed to start; log:\n{log_path.read_text()[-3000:]}") from None
    return proc


def stop(proc: subprocess.Popen) -> None:
    """Stops the service and its workers (its own process group) by PID."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def bin_path(name: str) -> str:
    return str(Path(sys.executable).parent / name)
