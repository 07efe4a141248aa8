"""Serving config: the Triton model's shape of service (batching, instances) and the server's endpoints."""

from __future__ import annotations

from typing import Literal

from egovla.config import StageConfig


class ServingConfig(StageConfig):
    SECTION = "serving"

    model_name: str = "egovla-policy"
    max_batch_size: int = 32
    # how long Triton may hold a request to batch it with others (the robots' requests are not aligned)
    max_queue_delay_us: int = 2000
    dynamic_batching: bool = True
    instance_kind: Literal["cpu", "gpu"] = "cpu"
    instances: int = 1
    # intra-op threads per instance; 1 also makes a served chunk the in-process one bit for bit
    # (eval workers run one thread each), so served and in-process evaluations match
    torch_threads: int = 1
    host: str = "127.0.0.1"
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
