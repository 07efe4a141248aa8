"""The robot side: ``PolicyClient(url).infer(obs) -> {"action": chunk}`` and ``act(obs)``, the same
interface as the in-process ``Policy``, over Triton's gRPC endpoint (tritonclient).

Chunk seams are handled here, by the same ``ChunkExecutor`` in-process evaluation uses: Triton models
are stateless, so what a robot needs across chunks stays on the robot. Timeouts bound every call;
unavailable servers are retried with exponential backoff and a fresh connection (a restarted server
is picked up), and a refused request (bad input) is not retried.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tenacity import retry, retry_if_exception, stop_after_delay, wait_exponential

from egovla.policy.config import ExecutionConfig
from egovla.policy.execution import ChunkExecutor
from egovla.policy.policy import TASK_KEY

RETRYABLE = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "not ready", "failed to connect", "Socket closed")


class ServerError(RuntimeError):
    """The server refused the request (its reason is in the message) or stayed unreachable."""


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionError)


class PolicyClient:
    def __init__(
        self,
        url: str,
        model: str = "egovla-policy",
        version: str = "",
        timeout_s: float = 5.0,
        retry_s: float = 30.0,
        execution: ExecutionConfig | None = None,
        recorder=None,
    ):
        """``recorder``: an ``EpisodeRecorder`` to keep this robot's episodes (opt-in; None records nothing)."""
        import tritonclient.grpc as grpc

        self._grpc = grpc
        self.url = url.removeprefix("grpc://")
        self.model, self.version, self.timeout_s, self.retry_s = model, version, timeout_s, retry_s
        self._connect()
        metadata = self._call(lambda: self.client.get_model_metadata(model, version, as_json=True))
        self.inputs = {i["name"]: i for i in metadata["inputs"]}
        self.output = metadata["outputs"][0]["name"]
        chunk = int(metadata["outputs"][0]["shape"][-2])
        self.executor = ChunkExecutor(execution or ExecutionConfig(), chunk)
        self.recorder = recorder
        self.image_key = next(n for n, i in self.inputs.items() if i["datatype"] == "UINT8")
        self.state_key = next(n for n, i in self.inputs.items() if i["datatype"] == "FP32")

    def _connect(self) -> None:
        self.client = self._grpc.InferenceServerClient(self.url)

    def _call(self, fn):
        @retry(
            retry=retry_if_exception(_retryable),
            stop=stop_after_delay(self.retry_s),
            wait=wait_exponential(multiplier=0.1, max=2.0),
            reraise=True,
        )
        def attempt():
            try:
                return fn()
            except self._grpc.InferenceServerException as exc:
                text = f"{exc.status()} {exc.message()}"
                if any(marker in text for marker in RETRYABLE):
                    self._connect()
                    raise ConnectionError(f"{self.url}: {text}") from exc
                raise ServerError(f"{self.url} refused the request: {exc.message()}") from exc

        try:
            return attempt()
        except ConnectionError as exc:
            raise ServerError(f"{self.url} unreachable for {self.retry_s:.0f} s: {exc}") from exc

    def reset(self) -> None:
        """A new episode; the one before it is written if recording."""
        if self.recorder is not None:
            self.recorder.end_episode()
        self.executor.reset()

    def _inputs(self, obs: dict[str, Any]) -> list:
        grpc = self._grpc
        single = isinstance(obs.get(TASK_KEY), str)
        out = []
        for name in self.inputs:
            if name not in obs:
                continue  # the server names what is missing
            if name == TASK_KEY:
                tasks = [obs[name]] if isinstance(obs[name], str) else list(obs[name])
                value = np.array([[t.encode()] for t in tasks], dtype=object)
                dtype = "BYTES"
            else:
                value = np.asarray(obs[name])
                value = value[None] if single else value
                dtype = grpc_dtype(value.dtype)
            tensor = grpc.InferInput(name, list(value.shape), dtype)
            tensor.set_data_from_numpy(value)
            out.append(tensor)
        return out

    def infer(self, obs: dict[str, Any]) -> dict[str, np.ndarray]:
        """Single observation (as ``Policy.infer`` takes it) -> (chunk, A); batched -> (B, chunk, A)."""
        single = isinstance(obs.get(TASK_KEY), str)
        inputs = self._inputs(obs)
        reply = self._call(
            lambda: self.client.infer(self.model, inputs, model_version=self.version, client_timeout=self.timeout_s)
        )
        chunk = reply.as_numpy(self.output)
        return {self.output: chunk[0] if single else chunk}

    def act(self, obs: dict[str, Any]) -> np.ndarray:
        if self.executor.needs_chunk():
            self.executor.add(self.infer(obs)[self.output])
        action = self.executor.next_action()
        if self.recorder is not None:
            self.recorder.add(obs, action, self.image_key, self.state_key, self.output, str(obs[TASK_KEY]))
        return action

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.end_episode()
        self.client.close()


def grpc_dtype(dtype: np.dtype) -> str:
    from tritonclient.utils import np_to_triton_dtype

    return np_to_triton_dtype(np.dtype(dtype))
