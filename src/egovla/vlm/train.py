"""DeepSpeed training loop: one process here, many through a launcher; resumes exactly.

Data order is a pure function of (seed, step), so a resumed run sees the batches the uninterrupted
run would have seen; DeepSpeed checkpoints carry the weights, optimizer and scheduler state.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from egovla.io.atomic import atomic_dir
from egovla.vlm.backbone import Backbone, exportable
from egovla.vlm.config import VLMConfig
from egovla.vlm.data import Examples

log = logging.getLogger(__name__)


def join_process_group() -> tuple[int, int]:
    """(rank, world size): the group a launcher (torchrun, deepspeed, PyTorchJob) set up, or a group of one."""
    import deepspeed

    if not dist.is_initialized():
        if "RANK" not in os.environ:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            os.environ.update(
                {
                    "RANK": "0",
                    "LOCAL_RANK": "0",
                    "WORLD_SIZE": "1",
                    "MASTER_ADDR": "127.0.0.1",
                    "MASTER_PORT": str(port),
                }
            )
        deepspeed.init_distributed(dist_backend="nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def deepspeed_config(cfg: VLMConfig, world: int) -> dict:
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} does not split over {world} ranks")
    return {
        "train_micro_batch_size_per_gpu": cfg.batch_size // world,
        "gradient_accumulation_steps": 1,
        "gradient_clipping": 1.0,
        "zero_optimization": {
            "stage": cfg.zero_stage,
            "overlap_comm": False,
            "contiguous_gradients": True,
            "reduce_bucket_size": 5e5,
            "allgather_bucket_size": 5e5,
        },
        "zero_allow_untested_optimizer": True,  # a plain torch AdamW: the same optimizer on CPU and GPU
        "bf16": {"enabled": cfg.precision == "bf16"},
        "steps_per_print": 10**9,
    }


def build_engine(backbone: Backbone, cfg: VLMConfig, world: int):
    import deepspeed

    params = [p for p in backbone.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    warmup = max(cfg.warmup_steps, 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup))
    engine, *_ = deepspeed.initialize(
        model=backbone.model, optimizer=optimizer, lr_scheduler=schedule, config=deepspeed_config(cfg, world)
    )
    return engine


def step_rows(cfg: VLMConfig, step: int, n: int, rank: int, world: int) -> np.ndarray:
    rows = np.random.default_rng([cfg.seed, step]).integers(0, n, cfg.batch_size)
    per_rank = cfg.batch_size // world
    return rows[rank * per_rank : (rank + 1) * per_rank]


def train_step(engine, backbone: Backbone, data: Examples, rows: np.ndarray) -> torch.Tensor:
    inputs = backbone.batch(data.frames[rows], [data.instructions[i] for i in rows], data.codes[rows])
    loss = engine(**inputs).loss
    engine.backward(loss)
    engine.step()
    return loss.detach().float()


def train(
    backbone: Backbone,
    cfg: VLMConfig,
    data: Examples,
    out_dir: Path,
    stop_after: int | None = None,
    on_log: Callable[[dict, int], None] | None = None,
) -> tuple[object, list[dict], float]:
    """Trains to ``cfg.steps``, resuming from ``out_dir/checkpoints``; returns engine, history, samples/s.
    ``stop_after`` ends early at that step (tests use it to simulate an interruption); ``on_log(losses,
    step)`` receives every step's loss while the loop runs."""
    rank, world = join_process_group()
    engine = build_engine(backbone, cfg, world)
    folder = out_dir / "checkpoints"
    start, history = 0, []
    if (folder / "latest").exists():
        _, client = engine.load_checkpoint(str(folder))
        start, history = client["step"], client["history"]
        log.info("resuming from step %d", start)
    end = min(cfg.steps, stop_after) if stop_after else cfg.steps
    engine.train()
    samples, seconds = 0, 0.0
    for step in range(start, end):
        torch.manual_seed(cfg.seed + step)  # any dropout in the backbone draws the same masks on resume
        tic = time.perf_counter()
        loss = train_step(engine, backbone, data, step_rows(cfg, step, len(data), rank, world))
        seconds += time.perf_counter() - tic
        samples += cfg.batch_size
        dist.all_reduce(loss)
        history.append({"step": step, "loss": float(loss) / world})
        if on_log is not None:
            on_log({"train_loss": history[-1]["loss"]}, step)
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == end:
            save_checkpoint(engine, folder, step + 1, history, rank)
    return engine, history, samples / seconds if seconds else 0.0


def save_checkpoint(engine, folder: Path, step: int, history: list[dict], rank: int) -> None:
    """Collective (every rank writes its shard); older tags go once the new one is complete."""
    engine.save_checkpoint(str(folder), tag=f"step{step:08d}", client_state={"step": step, "history": history})
    dist.barrier()
    if rank == 0:
        for old in folder.glob("step*"):
            if old.name != f"step{step:08d}":
                shutil.rmtree(old)


def export(engine, backbone: Backbone, out: Path, rank: int, zero_stage: int) -> None:
    """A plain save_pretrained folder (safetensors, LoRA merged) that loads without DeepSpeed or peft."""
    import deepspeed

    params = list(engine.module.parameters())
    gathered = (
        deepspeed.zero.GatheredParameters(params, modifier_rank=None) if zero_stage == 3 else contextlib.nullcontext()
    )
    with gathered:
        if rank == 0:
            model = exportable(engine.module)
            with atomic_dir(out) as tmp:
                model.save_pretrained(tmp)
                backbone.processor.save_pretrained(tmp)
    dist.barrier()


def clean_shared_memory() -> None:
    """DeepSpeed's CPU communication op (under its own launcher, which sets LOCAL_SIZE) leaves one
    /dev/shm segment per rank behind; remove this job's, named by user, master address and port."""
    job = f"{os.getuid()}_{os.environ.get('MASTER_ADDR', '')}_{os.environ.get('MASTER_PORT', '')}"
    for path in glob.glob(f"/dev/shm/deepspeed_allreduce_buffer_{job}_*"):
        with contextlib.suppress(OSError):
            os.remove(path)
