"""In-process policy latency per chunk (p50/p99, with its parts) and closed-loop env steps/s with the
policy next to the scripted expert's, in one run on real Meta-World observations.

    .venv/bin/python benchmarks/policy_latency.py --policy /tmp/mt10/full [--chunks 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from results import save

from egovla.policy import Policy
from egovla.policy.policy import TASK_KEY
from egovla.sim import metaworld as mw


def percentiles(times: list[float]) -> dict[str, float]:
    ms = 1000 * np.asarray(times)
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean())}


def timed(fn, repeats: int) -> list[float]:
    fn()
    out = []
    for _ in range(repeats):
        tic = time.perf_counter()
        fn()
        out.append(time.perf_counter() - tic)
    return out


def steps_per_s(task: str, seeds: range, policy: Policy | None, steps: int) -> float:
    """Closed-loop env steps/s with ``policy``, or with the scripted expert when it is None."""
    total, started = 0, time.perf_counter()
    for seed in seeds:
        env = mw.SimEnv(task, seed, max_steps=steps)
        obs = env.reset()
        scripted = mw.expert(task)
        if policy is not None:
            policy.reset()
        while True:
            if policy is None:
                action = scripted.get_action(env.full_state())
            else:
                action = policy.act({**obs, TASK_KEY: mw.instruction(task)})
            step = env.step(action)
            total += 1
            obs = step.observation
            if step.success or step.truncated:
                break
        env.close()
    return total / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--policy", default="/tmp/mt10/full")
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--task", default="drawer-close-v3")
    parser.add_argument("--episodes", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    policy = Policy.from_pretrained(args.policy)
    env = mw.SimEnv(args.task, 123_456, int(policy.meta["image_shape"][0]))
    obs = {**env.reset(), TASK_KEY: mw.instruction(args.task)}
    image, state = obs[policy.cfg.camera_key][None], obs[policy.cfg.state_key][None]
    figures = {"chunk": percentiles(timed(lambda: policy.infer(obs), args.chunks))}
    if policy.perception is not None:
        figures["perception"] = percentiles(timed(lambda: policy.perception(image), args.chunks))
    if policy.intent is not None:
        figures["intent"] = percentiles(timed(lambda: policy.intent.states(image, [obs[TASK_KEY]]), args.chunks))
    with torch.no_grad():
        context = policy.context(image, state, [obs[TASK_KEY]])
        figures["expert"] = percentiles(timed(lambda: policy.expert.sample(context), args.chunks))
        for batch in (8, 32):
            many = {
                k: np.repeat(v[None], batch, 0) if isinstance(v, np.ndarray) else [v] * batch for k, v in obs.items()
            }
            figures[f"chunk_batch{batch}_per_robot"] = {
                k: v / batch for k, v in percentiles(timed(lambda many=many: policy.infer(many), 20)).items()
            }
    env.close()

    seeds = range(200_000, 200_000 + args.episodes)
    figures["env_steps_per_s.policy"] = steps_per_s(args.task, seeds, policy, 300)
    figures["env_steps_per_s.scripted_expert"] = steps_per_s(args.task, seeds, None, 300)
    for name, value in figures.items():
        print(f"{name:<36} {value}")
    settings = vars(args) | {"replan_every": policy.cfg.execution.replan_every, "chunk_len": policy.cfg.chunk}
    print(save("policy_latency", settings, figures))


if __name__ == "__main__":
    main()
