"""Load test of the Triton policy server on loopback: 1, 8 and 32 concurrent robots sending real
Meta-World observations; p50/p99 latency, throughput and errors; dynamic batching on vs off at 32
robots; Triton vs in-process latency at 1 robot; a hot swap to ``--swap-to`` under 32 robots (errors,
how long the switch took, the worst latency while it ran). Bounded in requests and seconds per cell.

    .venv/bin/python benchmarks/serving_load.py --policy /tmp/mt10b/full --swap-to /tmp/mt10b/no_pretraining
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from results import save

from egovla.policy import Policy
from egovla.policy.policy import TASK_KEY
from egovla.serving import PolicyClient, ServingConfig, export, triton_server
from egovla.serving.swap import HotSwap
from egovla.sim import metaworld as mw

TOKEN = "benchmark"


def observations(policy: Policy, count: int) -> list[dict]:
    """Real observations: frames and states of scripted rollouts of the policy's tasks."""
    out = []
    tasks = [t for t in mw.MT10 if mw.instruction(t) in policy.tasks] or list(mw.MT10)
    size = int(policy.meta["image_shape"][0])
    for i in range(count):
        task = tasks[i % len(tasks)]
        rollout = mw.expert_rollout(task, 10_000 + i, steps=20, size=size)
        step = i % len(rollout.frames)
        out.append(
            {
                policy.cfg.camera_key: rollout.frames[step],
                policy.cfg.state_key: rollout.states[step],
                TASK_KEY: mw.instruction(task),
            }
        )
    return out


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms) if ms else np.asarray([np.nan])
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)), "max_ms": float(a.max())}


def load(url: str, robots: int, obs: list[dict], requests: int, seconds: float, during=None) -> dict:
    """``robots`` threads, each its own client, ``requests`` in all, stopping early after ``seconds``;
    ``during``: run in this thread while the robots send (a hot swap); they stop a second after it."""
    latencies, errors, lock = [], [], threading.Lock()
    remaining = [requests]
    deadline = [time.monotonic() + seconds]

    def robot(index: int) -> None:
        client = PolicyClient(url, timeout_s=30, retry_s=5)
        i = index
        while time.monotonic() < deadline[0]:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            tic = time.perf_counter()
            try:
                client.infer(obs[i % len(obs)])
                with lock:
                    latencies.append(1000 * (time.perf_counter() - tic))
            except Exception as exc:
                with lock:
                    errors.append(str(exc)[:200])
            i += robots

    started = time.perf_counter()
    threads = [threading.Thread(target=robot, args=(r,)) for r in range(robots)]
    for t in threads:
        t.start()
    extra = {}
    if during:
        extra = during()
        deadline[0] = min(deadline[0], time.monotonic() + 1.0)
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return extra | {"robots": robots, "requests": len(latencies), "errors": len(errors), "first_errors": errors[:3],
            "throughput_per_s": len(latencies) / wall, **percentiles(latencies)}  # fmt: skip


def serve(policy_dir: str, batching: bool, work: Path, queue_delay_us: int | None):
    config = ServingConfig(dynamic_batching=batching, **triton_server.free_ports())
    if queue_delay_us is not None:
        config = config.model_copy(update={"max_queue_delay_us": queue_delay_us})
    repo = work / ("batched" if batching else "unbatched")
    export(config, policy_dir, repo, 1)
    return triton_server.start(repo, config, work / f"{repo.name}-work", TOKEN, [config.model_name]), config, repo


def hot_swap(url: str, swapper: HotSwap, args, obs: list[dict]) -> dict:
    """32 robots send while the server switches from version 1 to ``--swap-to`` as version 2; a probe
    robot notes when its answer to one fixed observation first changes (the new version answering)."""
    probe = PolicyClient(url, timeout_s=30, retry_s=5)
    first = probe.infer(obs[0])["action"]
    changed, done = [], threading.Event()

    def watch(started: float) -> None:
        while not done.is_set() and not changed:
            if not np.allclose(probe.infer(obs[0])["action"], first, atol=1e-5):
                changed.append(time.perf_counter() - started)
            time.sleep(0.05)

    def switch() -> dict:
        time.sleep(1.0)  # the robots are in full flow first
        tic = time.perf_counter()
        watcher = threading.Thread(target=watch, args=(tic,))
        watcher.start()
        swapper.sync(2, args.swap_to)
        done_s = time.perf_counter() - tic
        done.set()
        watcher.join()
        return {"new_answers_after_s": changed[0] if changed else None, "old_unloaded_after_s": done_s,
                "served_after": swapper.served_versions()}  # fmt: skip

    return load(url, 32, obs, 100_000, 120.0, during=switch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--policy", required=True)
    parser.add_argument("--swap-to", help="a second policy folder to hot-swap to under load")
    parser.add_argument("--requests", type=int, default=640)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--observations", type=int, default=32)
    parser.add_argument("--queue-delay-us", type=int, default=None, help="default: ServingConfig's")
    args = parser.parse_args()
    # one thread, as each served instance runs (ServingConfig.torch_threads): the same compute both ways
    torch.set_num_threads(1)
    policy = Policy.from_pretrained(args.policy)
    obs = observations(policy, args.observations)
    in_process = []
    for o in obs[: min(len(obs), 50)] * 2:
        tic = time.perf_counter()
        policy.infer(o)
        in_process.append(1000 * (time.perf_counter() - tic))
    results: dict = {"in_process_1_robot": percentiles(in_process[5:])}
    with tempfile.TemporaryDirectory() as tmp:
        for batching in (True, False):
            server, config, repo = serve(args.policy, batching, Path(tmp), args.queue_delay_us)
            url = f"grpc://{server.grpc_url}"
            try:
                load(url, 4, obs, 20, args.seconds)  # warm up
                cells = [1, 8, 32] if batching else [32]
                for robots in cells:
                    cell = load(url, robots, obs, args.requests, args.seconds)
                    results[f"{'batched' if batching else 'unbatched'}_{robots}"] = cell
                    print(cell, flush=True)
                if batching and args.swap_to:
                    results["hot_swap_32"] = hot_swap(url, HotSwap(config, repo, server.http_url, TOKEN), args, obs)
                    print(results["hot_swap_32"], flush=True)
            finally:
                server.stop()
    results["batching_speedup_32"] = (
        results["batched_32"]["throughput_per_s"] / results["unbatched_32"]["throughput_per_s"]
    )
    results["overhead_p50_ms_1_robot"] = results["batched_1"]["p50_ms"] - results["in_process_1_robot"]["p50_ms"]
    for key, value in results.items():
        print(f"{key:<26} {value}")
    settings = {"policy": args.policy, "swap_to": args.swap_to, "requests": args.requests, "seconds": args.seconds}
    save("serving_load", settings | {"queue_delay_us": args.queue_delay_us}, results)


if __name__ == "__main__":
    main()
