"""Hot swap: when ``champion`` moves in the registry, the server loads the new version beside the old
one, then drops the old one. Triton's explicit model control keeps a loaded model serving while a
reload of it succeeds or fails, so no request in flight or arriving meanwhile fails.

    swapper = HotSwap(config, repo, server_http_url, token)
    swapper.sync(registry_version, policy_dir)   # or swapper.follow(registry) in a loop
"""

from __future__ import annotations

import logging
import shutil
import time
import urllib.request
from pathlib import Path

from egovla import tracking
from egovla.serving.config import ServingConfig
from egovla.serving.export import export

log = logging.getLogger(__name__)


class HotSwap:
    def __init__(self, config: ServingConfig, repo: str | Path, http_url: str, token: str):
        self.config, self.repo, self.http_url, self.token = config, Path(repo), http_url, token

    def served_versions(self) -> list[int]:
        folder = self.repo / self.config.model_name
        return sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit())

    def _load(self) -> None:
        """(Re)loads the model with the versions its folder holds (``version_policy: all``); a version
        already loaded keeps serving while the others load. Raises if Triton refuses."""
        request = urllib.request.Request(
            f"{self.http_url}/v2/repository/models/{self.config.model_name}/load",
            data=b"{}",
            headers={"triton-access-token": self.token, "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=300) as reply:
            if reply.status != 200:
                raise RuntimeError(f"Triton refused to load {self.config.model_name}: HTTP {reply.status}")

    def _ready(self, version: int) -> bool:
        url = f"{self.http_url}/v2/models/{self.config.model_name}/versions/{version}/ready"
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                return reply.status == 200
        except OSError:
            return False

    def sync(self, version: int, policy_dir: str | Path) -> bool:
        """Serves ``version`` (exported from ``policy_dir``) and nothing else. False if it already was."""
        old = self.served_versions()
        if old == [version]:
            return False
        if version not in old:
            export(self.config, policy_dir, self.repo, version)
        self._load()  # old and new: requests keep being answered while the new one loads
        deadline = time.monotonic() + 300
        while not self._ready(version):
            if time.monotonic() > deadline:
                raise TimeoutError(f"version {version} did not become ready")
            time.sleep(0.2)
        for stale in set(old) - {version}:
            shutil.rmtree(self.repo / self.config.model_name / str(stale), ignore_errors=True)
        self._load()  # the new one alone
        log.info("serving %s v%d (was %s)", self.config.model_name, version, old)
        return True

    def follow_champion(self, registry_model: str, workdir: str | Path) -> bool:
        """One check of the registry: swaps to the champion if it moved."""
        registry = tracking.Registry()
        champion = registry.by_alias(registry_model, tracking.CHAMPION)
        if champion is None or self.served_versions() == [champion.version]:
            return False
        _, folder = registry.download(registry_model, champion.version, Path(workdir) / f"v{champion.version}")
        return self.sync(champion.version, folder)
