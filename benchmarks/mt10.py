"""MT10: 50 scripted demos per task, one multi-task policy, 20 seeded episodes per task, and the ablations.

    .venv/bin/python benchmarks/mt10.py [--work /tmp/mt10] [--vlm outputs/demo/vlm] [--lam outputs/demo/lam]
                                        [--variants full bc_scratch no_pretraining no_decoupling expert]

Same demos, same eval seeds for every variant:
    full            frozen pretrained VLM intent + frozen EfficientNet-Lite0 perception + state
    bc_scratch      behaviour cloning: same perception and state, a task one-hot instead of the VLM
    no_pretraining  the same VLM architecture with random weights
    no_decoupling   the expert reads only the VLM's states and the state (no separate perception)
    expert          Meta-World's scripted expert (the ceiling)
The VLM and LAM come from the main job (`bash scripts/demo.sh`). Figures go to benchmarks/results/mt10.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from results import save

from egovla import demos, eval, policy
from egovla.eval.report import task_success

VARIANTS = {
    "full": [],
    "bc_scratch": ["policy.intent.source=onehot"],
    "no_pretraining": ["policy.intent.weights=random"],
    "no_decoupling": ["policy.perception.enabled=false"],
    "expert": None,
}


def table(results: dict[str, dict]) -> str:
    names = list(results)
    tasks = [t["task"] for t in next(iter(results.values()))["per_task"]]
    lines = ["| task | group | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for i, task in enumerate(tasks):
        cells = [f"{task_success(r['per_task'][i]):.0f}" for r in results.values()]
        lines.append(f"| {task} | {results[names[0]]['per_task'][i]['task_group']} | " + " | ".join(cells) + " |")
    for group in results[names[0]]["per_group"]:
        lines.append(
            f"| **{group}** | | "
            + " | ".join(f"{r['per_group'][group]['pc_success']:.1f}" for r in results.values())
            + " |"
        )
    lines.append(
        "| **overall** | | " + " | ".join(f"**{r['overall']['pc_success']:.1f}**" for r in results.values()) + " |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/mt10"))
    parser.add_argument("--vlm", type=Path, default=Path("outputs/demo/vlm"))
    parser.add_argument("--lam", type=Path, default=Path("outputs/demo/lam"))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--episodes", type=int, default=None, help="eval episodes per task (preset: 20)")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="adapt override for every variant")
    args = parser.parse_args()

    demos_dir = args.work / "demos"
    timings: dict[str, float] = {}
    if not (demos_dir / "meta" / "demos.json").exists():
        started = time.perf_counter()
        demos.run(demos.DemosConfig.resolve("mt10"), demos_dir)
        timings["demos_s"] = time.perf_counter() - started
    eval_config = eval.EvalConfig.resolve("mt10", overrides={"episodes": args.episodes})
    results, figures = {}, {}
    for name in args.variants:
        out = args.work / name
        if VARIANTS[name] is None:
            result = eval.run(eval_config.model_copy(update={"expert": True}), out / "eval")
        else:
            config = policy.AdaptConfig.resolve("mt10", sets=VARIANTS[name] + args.sets)
            adapted = policy.run(config, demos_dir, out, args.vlm, args.lam, cache_dir=args.work / "cache")
            figures[f"{name}.adapt_train_s"] = adapted.metrics["train_s"]
            figures[f"{name}.adapt_feature_s"] = adapted.metrics["feature_s"]
            figures[f"{name}.final_loss"] = adapted.metrics["final_loss"]
            result = eval.run(eval_config, out / "eval", out)
        results[name] = json.loads((out / "eval" / "eval_info.json").read_text())
        figures[f"{name}.pc_success"] = results[name]["overall"]["pc_success"]
        figures[f"{name}.eval_s"] = result.metrics["overall.eval_s"]
        figures[f"{name}.env_steps_per_s"] = result.metrics["env_steps_per_s"]
        figures[f"{name}.policy_ms_per_step"] = result.metrics["policy_ms_per_step"]
        for group, g in results[name]["per_group"].items():
            figures[f"{name}.{group}.pc_success"] = g["pc_success"]
        for entry in results[name]["per_task"]:
            figures[f"{name}.{entry['task']}.pc_success"] = task_success(entry)
        print(f"{name}: {figures[f'{name}.pc_success']:.1f}% in {figures[f'{name}.eval_s']:.0f} s", flush=True)
    print(table(results))
    settings = {"variants": args.variants, "vlm": str(args.vlm), "lam": str(args.lam), "sets": args.sets}
    settings |= {"eval_episodes_per_task": eval_config.episodes, "demos_per_task": 50, **timings}
    print(save("mt10", settings, figures | {"table": table(results)}))


if __name__ == "__main__":
    main()
