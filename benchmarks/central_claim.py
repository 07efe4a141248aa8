"""The paper's claim end to end at CPU scale, ours vs the no-mask ablation, over seeds.

    .venv/bin/python benchmarks/central_claim.py [--work /tmp/claim] [--seeds 0 1 2 3 4] [--mt10-seeds 0 1 2]
                                                 [--mt10-episodes 10] [--lam-preset cpu] [--vlm-preset cpu]
                                                 [--lam-set train.steps=1500] [--vlm-set steps=1000] [--name NAME]

Per seed, through the stages' own `run` functions:
  1. `lam train` (``--lam-preset``) on the `cpu` synth corpus plus the sample footage: ours (masks, hybrid
     codebooks) and the ablation (no masks, one codebook) on the same data, seed and steps. Displacement
     probe R^2 on held-out scenes, background-swap invariance, motion sensitivity, robot-action R^2 on
     Meta-World scripted rollouts.
  2. `lam label` with each model, then `vlm pretrain` (``--vlm-preset``) on each model's codes: held-out
     code and token accuracy next to the majority baselines.
  3. For ``--mt10-seeds``: `adapt` on 50 scripted demos per MT10 task and `eval`, three ways: the VLM
     pretrained on our codes, the same VLM with random weights (no pretraining), and the VLM pretrained
     on the ablation's codes with the ablation's LAM (no-mask LAM).
Finished seeds are kept in ``--work`` (a rerun resumes, so seeds can run in parallel processes and a last
run over all of them writes the table); figures go to benchmarks/results/<--name>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("EGOVLA_TRACKING", "off")

import numpy as np
from results import save

from egovla import demos, eval, lam, policy, vlm
from egovla.ingest import IngestConfig
from egovla.ingest import run as ingest
from egovla.masks import MaskConfig
from egovla.masks import run as masks
from egovla.synth import SynthConfig
from egovla.synth import run as synth
from egovla.vlm.data import load_examples, split
from egovla.vlm.evaluate import accuracy

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
LAM_COLUMNS = ("probe.displacement_r2", "swap_invariance", "motion_sensitivity", "probe.robot_action_r2")
VLM_COLUMNS = (
    "code_accuracy",
    "majority_code_accuracy",
    "token_accuracy",
    "majority_token_accuracy",
    "phase_code_accuracy",
    "eval_loss",
    "prior_eval_loss",
)
MT10_VARIANTS = ("pretrained", "no_pretraining", "no_mask_lam")


def corpus(work: Path, synth_seed: int) -> Path:
    """The robot-free pretraining corpus: `cpu` generated scenes plus the sample footage, with masks."""
    out = work / "corpus"
    if not (out / "masks").exists():
        synth(SynthConfig.resolve("cpu", overrides={"seed": synth_seed}), work / "scenes")
        ingest(IngestConfig(), [str(work / "scenes"), str(SAMPLES)], out)
        masks(MaskConfig(workers=2), out)
    return out


def cached(path: Path, make) -> dict:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(make()))
    return json.loads(path.read_text())


def phase_baseline(data: Path, labels: Path, seed: int, preset: str) -> dict[str, float]:
    """What the frame and instruction can tell at least: on the stage's own episode split, the training
    set's most frequent code for each (time step in the clip, the instruction's last word: its direction)
    applied to the held-out transitions. A generated clip's phase (reach, carry, retreat) shows in where
    the actor is, so a VLM that reads the frame and the instruction reaches this without the time step."""
    config = vlm.VLMConfig.resolve(preset, overrides={"seed": seed})
    examples = load_examples(data, config.default_instruction, labels)
    starts = {e: np.flatnonzero(examples.episodes == e)[0] for e in np.unique(examples.episodes)}
    steps = np.arange(len(examples)) - np.array([starts[e] for e in examples.episodes])
    keys = [(int(t), text.split()[-1]) for t, text in zip(steps, examples.instructions)]
    train, held_out = split(examples, config.eval_fraction, config.seed)
    in_train = np.isin(examples.episodes, np.unique(train.episodes))  # split keeps each side in order
    table: dict[tuple, Counter] = defaultdict(Counter)
    for key, code, kept in zip(keys, map(tuple, examples.codes), in_train):
        if kept:
            table[key][code] += 1
    fallback = Counter(map(tuple, train.codes)).most_common(1)[0][0]
    guesses = [table[k].most_common(1)[0][0] if k in table else fallback for k, kept in zip(keys, in_train) if not kept]
    return {f"phase_{k}": v for k, v in accuracy(np.array(guesses), held_out.codes).items()}


def pretraining(work: Path, data: Path, seed: int, args) -> dict:
    """LAM (ours + ablation), labels and a VLM per LAM; every figure of one seed."""
    run = work / f"seed{seed}"

    def lam_stage() -> dict:
        started = time.perf_counter()
        config = lam.LAMConfig.resolve(args.lam_preset, sets=[*args.lam_set, f"train.seed={seed}"])
        metrics = lam.run_train(config, data, run / "lam").metrics
        return metrics | {"lam_s": time.perf_counter() - started}

    figures = cached(run / "lam.json", lam_stage)
    backbone = work / "backbone"
    if not (backbone / "config.json").exists():
        vlm.run_backbone(vlm.BackboneConfig(), backbone)
    for name, prefix in (("ours", ""), ("ablation", "ablation.")):

        def vlm_stage(name: str = name) -> dict:
            started = time.perf_counter()
            labels = run / f"labels_{name}"
            lam.run_label(lam.LabelConfig(), data, run / "lam" / name / "model", labels)
            config = vlm.VLMConfig.resolve(
                args.vlm_preset, overrides={"backbone": str(backbone), "seed": seed}, sets=args.vlm_set
            )
            metrics = vlm.run_pretrain(config, data, run / f"vlm_{name}", labels).metrics
            return metrics | {"vlm_s": time.perf_counter() - started}

        metrics = cached(run / f"vlm_{name}.json", vlm_stage)
        if "phase_code_accuracy" not in metrics:
            metrics |= phase_baseline(data, run / f"labels_{name}", seed, args.vlm_preset)
            (run / f"vlm_{name}.json").write_text(json.dumps(metrics))
        figures |= {f"{prefix}vlm.{k}": v for k, v in metrics.items()}
    return figures


def adaptation(work: Path, seed: int, args) -> dict[str, float]:
    """MT10 success (%) of the adapted policy, per variant."""
    run, demos_dir = work / f"seed{seed}", work / "mt10_demos"
    if not (demos_dir / "meta" / "demos.json").exists():
        demos.run(demos.DemosConfig.resolve("mt10"), demos_dir)
    inputs = {
        "pretrained": ([], run / "vlm_ours", run / "lam" / "ours" / "model"),
        "no_pretraining": (["policy.intent.weights=random"], run / "vlm_ours", run / "lam" / "ours" / "model"),
        "no_mask_lam": ([], run / "vlm_ablation", run / "lam" / "ablation" / "model"),
    }
    eval_config = eval.EvalConfig.resolve("mt10", overrides={"episodes": args.mt10_episodes})
    success = {}
    for name, (sets, vlm_dir, lam_dir) in inputs.items():

        def mt10(sets=sets, vlm_dir=vlm_dir, lam_dir=lam_dir, name=name) -> dict:
            config = policy.AdaptConfig.resolve(
                "mt10", sets=[*sets, f"train.seed={seed}", f"policy.intent.seed={seed}"]
            )
            policy.run(config, demos_dir, run / name, vlm_dir, lam_dir, cache_dir=work / "policy_cache")
            eval.run(eval_config, run / name / "eval", run / name)
            return json.loads((run / name / "eval" / "eval_info.json").read_text())["overall"]

        success[name] = cached(run / f"mt10_{name}.json", mt10)["pc_success"]
    return success


def table(rows: dict[int, dict], columns: tuple[str, ...], prefixes: tuple[str, str] = ("", "ablation.")) -> str:
    head = "| seed | " + " | ".join(f"{c} (ours / ablation)" for c in columns) + " |"
    lines = [head, "|---|" + "---|" * len(columns)]
    for seed, figures in [*rows.items(), ("mean", None)]:
        cells = []
        for c in columns:
            pair = []
            for p in prefixes:
                values = [r[p + c] for r in rows.values()] if figures is None else [figures[p + c]]
                pair.append(f"{statistics.fmean(values):.3f}")
            cells.append(" / ".join(pair))
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/claim"))
    parser.add_argument("--synth-seed", type=int, default=7)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--mt10-seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--mt10-episodes", type=int, default=10, help="eval episodes per MT10 task")
    parser.add_argument("--lam-preset", default="cpu")
    parser.add_argument("--vlm-preset", default="cpu")
    parser.add_argument("--lam-set", nargs="*", default=[], help="dotted overrides of the LAM preset")
    parser.add_argument("--vlm-set", nargs="*", default=[], help="dotted overrides of the VLM preset")
    parser.add_argument("--name", default="central_claim", help="results file name")
    args = parser.parse_args()
    data = corpus(args.work, args.synth_seed)
    rows = {seed: pretraining(args.work, data, seed, args) for seed in args.seeds}
    for seed in args.mt10_seeds:
        rows[seed] |= {f"mt10.{k}": v for k, v in adaptation(args.work, seed, args).items()}
    vlm_columns = tuple(f"vlm.{c}" for c in VLM_COLUMNS)
    tables = {"lam": table(rows, LAM_COLUMNS), "vlm": table(rows, vlm_columns)}
    if args.mt10_seeds:
        mt10_rows = {s: rows[s] for s in args.mt10_seeds}
        lines = ["| seed | " + " | ".join(MT10_VARIANTS) + " |", "|---|" + "---|" * len(MT10_VARIANTS)]
        for seed, r in [*mt10_rows.items(), ("mean", None)]:
            cells = [
                statistics.fmean(m[f"mt10.{v}"] for m in mt10_rows.values()) if r is None else r[f"mt10.{v}"]
                for v in MT10_VARIANTS
            ]
            lines.append(f"| {seed} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")
        tables["mt10"] = "\n".join(lines)
    for name, text in tables.items():
        print(f"\n{name}\n{text}")
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    print(save(args.name, settings, {"per_seed": rows, "tables": tables}))


if __name__ == "__main__":
    main()
