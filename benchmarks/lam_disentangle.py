"""Does the mask model disentangle better than the no-mask ablation? The `lam train` stage, over seeds.

    .venv/bin/python benchmarks/lam_disentangle.py [--clips 200] [--synth-seed 7] [--seeds 0 1 2] [--steps 600]
                                                   [--train JSON] [--model JSON]

Generated scenes go through the real pipeline: ingest, motion masks, then `lam.run_train` with the
tiny preset, which trains ours (masks, hybrid codebooks) and the ablation (no masks, one codebook) on
the same data, seed and steps, and measures both. One training seed is noisy, so the table shows
every seed and the mean. About 12 minutes at the defaults; with 40 clips the 600 steps memorise the
few tables and colours, and both models' probes sit near zero.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("EGOVLA_TRACKING", "off")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from results import save

from egovla import lam
from egovla.ingest import IngestConfig
from egovla.ingest import run as ingest
from egovla.masks import MaskConfig
from egovla.masks import run as masks
from egovla.synth import SynthConfig
from egovla.synth import run as synth

COLUMNS = {
    "probe.displacement_r2": "probe R2",
    "swap_invariance": "swap inv.",
    "motion_sensitivity": "motion sens.",
    "probe.robot_action_r2": "robot R2",
    "action.perplexity": "perplexity",
    "recon.action_only.fg": "action-only fg err",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--synth-seed", type=int, default=7, help="seed of the generated corpus")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--train", default="{}", help='TrainConfig overrides as JSON, e.g. \'{"foreground": "union"}\'')
    parser.add_argument("--model", default="{}", help='ModelConfig overrides as JSON, e.g. \'{"fusion": "temporal"}\'')
    parser.add_argument("--name", default="lam_disentangle", help="results file: benchmarks/results/NAME.json")
    parser.add_argument("--robot-episodes", type=int, default=0, help="Meta-World rollouts for the robot-action probe")
    args = parser.parse_args()
    rows: dict[str, list[dict]] = {"ours": [], "ablation": []}
    with tempfile.TemporaryDirectory() as tmp:
        synth(SynthConfig(clips=args.clips, seed=args.synth_seed), Path(tmp) / "scenes")
        corpus = Path(tmp) / "corpus"
        ingest(IngestConfig(), [str(Path(tmp) / "scenes")], corpus)
        masks(MaskConfig(workers=2), corpus)
        for seed in args.seeds:
            tic = time.perf_counter()
            train = {**json.loads(args.train), "seed": seed, "steps": args.steps}
            config = lam.LAMConfig.resolve(
                section={"robot_episodes": args.robot_episodes, "train": train, "model": json.loads(args.model)}
            )
            m = lam.run_train(config, corpus, Path(tmp) / f"lam{seed}").metrics
            rows["ours"].append({k: m.get(k, float("nan")) for k in COLUMNS})
            rows["ablation"].append({k: m.get(f"ablation.{k}", float("nan")) for k in COLUMNS})
            print(f"seed {seed} done in {time.perf_counter() - tic:.0f} s", flush=True)
    print(
        f"\n{args.clips} generated clips (seed {args.synth_seed}), motion masks, tiny preset, {args.steps} steps, "
        f"train {args.train}, model {args.model}; ours | ablation"
    )
    print(f"  {'seed':<6}" + "".join(f"{name:>26}" for name in COLUMNS.values()))
    for i, seed in enumerate(args.seeds + ["mean"]):
        cells = []
        for key in COLUMNS:
            if seed == "mean":
                ours = statistics.fmean(r[key] for r in rows["ours"])
                abl = statistics.fmean(r[key] for r in rows["ablation"])
            else:
                ours, abl = rows["ours"][i][key], rows["ablation"][i][key]
            cells.append(f"{ours:+9.3f} | {abl:+9.3f}" if key != "action.perplexity" else f"{ours:9.2f} | {abl:9.2f}")
        print(f"  {str(seed):<6}" + "".join(f"{c:>26}" for c in cells))
    save(
        args.name,
        {
            "clips": args.clips,
            "synth_seed": args.synth_seed,
            "seeds": args.seeds,
            "steps": args.steps,
            "train": args.train,
            "model": args.model,
            "robot_episodes": args.robot_episodes,
        },
        {"per_seed": rows},
    )


if __name__ == "__main__":
    main()
