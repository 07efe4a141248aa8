"""The Triton server nvidia-pytriton bundles, started on a hand-written model repository.

Two fixes live here: the Python-backend stub must load the interpreter's own libpython (it links the
system one otherwise and fails on ``'_thread.RLock' object has no attribute '_recursion_count'``), so
``LD_LIBRARY_PATH`` starts with this interpreter's LIBDIR; and the stub ignores PYTHONPATH, so each
model.py puts this environment's site-packages first on ``sys.path`` itself (see ``export``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sysconfig
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from egovla.serving.config import ServingConfig


def free_ports() -> dict[str, int]:
    """``http_port``, ``grpc_port`` and ``metrics_port`` free on 127.0.0.1 now, for a ServingConfig
    (a server per test, benchmark cell or main job, side by side with others)."""
    import socket

    ports = {}
    with socket.socket() as a, socket.socket() as b, socket.socket() as c:
        for name, s in zip(("http_port", "grpc_port", "metrics_port"), (a, b, c)):
            s.bind(("127.0.0.1", 0))  # all three held open at once: three different ports
            ports[name] = s.getsockname()[1]
    return ports


def triton_home() -> Path:
    """The server binary and backends inside the nvidia-pytriton wheel (located, never imported)."""
    import importlib.util

    spec = importlib.util.find_spec("pytriton")
    if spec is None or spec.origin is None:
        raise RuntimeError("the Triton server comes with nvidia-pytriton: install egovla[serve]")
    return Path(spec.origin).parent / "tritonserver"


def backend_dir(root: Path) -> Path:
    """``backends/python`` as Triton wants it: the backend library, its utils and the 3.11 stub."""
    home = triton_home()
    python = root / "backends" / "python"
    python.mkdir(parents=True, exist_ok=True)
    sources = {
        "libtriton_python.so": home / "backends" / "python" / "libtriton_python.so",
        "triton_python_backend_utils.py": home / "backends" / "python" / "triton_python_backend_utils.py",
        "triton_python_backend_stub": home / "python_backend_stubs" / "3.11" / "triton_python_backend_stub",
    }
    for name, source in sources.items():
        link = python / name
        if not link.exists():
            link.symlink_to(source)
    return root / "backends"


def environment() -> dict[str, str]:
    libs = triton_home().parent.parent / "nvidia_pytriton.libs"  # the wheel's bundled shared libraries
    paths = [sysconfig.get_config_var("LIBDIR"), str(libs), os.environ.get("LD_LIBRARY_PATH", "")]
    return {**os.environ, "LD_LIBRARY_PATH": os.pathsep.join(p for p in paths if p)}


@dataclass
class Server:
    process: subprocess.Popen
    config: ServingConfig
    log_path: Path

    @property
    def grpc_url(self) -> str:
        return f"{self.config.host}:{self.config.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.config.host}:{self.config.http_port}"

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.http_url}/v2/health/ready", timeout=2) as reply:
                return reply.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start(
    repo: str | Path, config: ServingConfig, workdir: str | Path, token: str, models: list[str], timeout: float = 120
) -> Server:
    """Starts Triton on ``repo`` with explicit model control, every endpoint on ``config.host``, and the
    model-repository and statistics endpoints behind ``token``."""
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    apis = "model-repository,statistics,shared-memory,trace,logging"
    restricted = f"{apis}:triton-access-token={token}"
    grpc_restricted = f"{apis}:triton-grpc-protocol-triton-access-token={token}"
    command = [
        str(triton_home() / "bin" / "tritonserver"),
        f"--model-repository={Path(repo).resolve()}",
        f"--backend-directory={backend_dir(work)}",
        "--model-control-mode=explicit",
        *[f"--load-model={m}" for m in models],
        f"--http-address={config.host}", f"--http-port={config.http_port}",
        f"--grpc-address={config.host}", f"--grpc-port={config.grpc_port}",
        f"--metrics-address={config.host}", f"--metrics-port={config.metrics_port}",
        f"--http-restricted-api={restricted}",
        f"--grpc-restricted-protocol={grpc_restricted}",
        "--strict-readiness=true",
        "--exit-timeout-secs=10",
    ]  # fmt: skip
    log_path = work / "tritonserver.log"
    log = open(log_path, "wb")  # noqa: SIM115 - the server writes to it while it runs
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment(), start_new_session=True)
    server = Server(process, config, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"tritonserver exited with {process.returncode}; log {log_path}:\n{log_path.read_text()[-3000:]}"
            )
        if server.ready():
            return server
        time.sleep(0.5)
    server.stop()
    raise TimeoutError(f"tritonserver not ready within {timeout}s; log {log_path}:\n{log_path.read_text()[-3000:]}")
