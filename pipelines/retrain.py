"""The retraining loop on one machine (`egovla retrain`); on a cluster the same pipeline runs as a kfp
recurring run (`egovla schedule create`).

Each tick ingests the source's new clips into the loop's corpus (``STATE/corpus``; known clips are
skipped by content hash). If the corpus is the one the last run trained on, the tick does nothing and
says so; otherwise it runs the retraining pipeline under kfp's local runner, its ingest reading that
same corpus (``ingest.persist``), and the gate decides. A lock makes ticks exclusive (a tick that finds
it held skips), and ticks missed while one ran long are skipped, never caught up.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from pipelines.local import PARAMS, local_environment, pipeline_params, run_retraining, task_output

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass
class Tick:
    ran: bool
    message: str
    corpus_version: str = ""
    run_dir: str = ""
    gate: dict | None = None


def parse_every(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"--every {text!r}: expected a positive number with a unit s, m, h or d (e.g. 6h)")
    return float(match.group(1)) * UNITS[match.group(2)]


def next_tick(previous: float, every: float, now: float) -> tuple[float, int]:
    """The first slot after ``now`` on the grid ``previous + k * every``, and how many were missed."""
    slot, missed = previous + every, 0
    while slot <= now:
        slot += every
        missed += 1
    return slot, missed


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[bool]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tick(source: str, state: Path, params_file: Path | None = PARAMS, s3_endpoint: str | None = None) -> Tick:
    from egovla import ingest
    from egovla.ingest.store import Corpus

    state = Path(state).resolve()
    local_environment(state)
    with exclusive(state / "lock") as held:
        if not held:
            return Tick(False, f"another tick holds {state / 'lock'}; skipped")
        corpus_dir = state / "corpus"
        overrides = {"s3_endpoint": s3_endpoint} if s3_endpoint else {}
        config = ingest.IngestConfig.from_params(params_file, overrides=overrides)
        added = ingest.run(config, [source], corpus_dir).metrics["added"]
        corpus = Corpus(corpus_dir)
        version, clips = corpus.version(), len(corpus.manifest())
        record_path = state / "state.json"
        record = json.loads(record_path.read_text()) if record_path.exists() else {}
        if clips == 0:
            return Tick(False, f"{source}: no usable clips yet; nothing to do", version)
        if record.get("trained_version") == version:
            return Tick(False, f"corpus unchanged (version {version}, {clips} clips): nothing to do", version)
        params = pipeline_params(params_file, {"ingest": {**overrides, "persist": str(corpus_dir)}})
        run_dir = run_retraining([source], state / "kfp", params)
        gate = json.loads((task_output(run_dir, "gate-op", "record") / "gate.json").read_text())
        record = {"trained_version": version, "clips": clips, "run_dir": str(run_dir), "gate": gate, "at": time.time()}
        (state / "state.json").write_text(json.dumps(record, indent=2) + "\n")
        message = (
            f"{added} new clips -> corpus {version} ({clips} clips): policy v{gate['candidate']} "
            f"{gate['decision']} ({'; '.join(gate['reasons'])})"
        )
        return Tick(True, message, version, str(run_dir), gate)


def main(
    source: str,
    state: Path,
    every: str | None = None,
    params_file: Path | None = None,
    s3_endpoint: str | None = None,
    echo: Callable[[str], None] = print,
    ticks: int | None = None,
) -> list[Tick]:
    """One tick, or (``every``) a tick per interval until stopped (or ``ticks`` have run)."""
    interval = parse_every(every) if every else None
    params_file = params_file if params_file is not None else (PARAMS if PARAMS.exists() else None)
    done: list[Tick] = []
    slot = time.time()
    while True:
        result = tick(source, state, params_file, s3_endpoint)
        done.append(result)
        echo(json.dumps(asdict(result)) if result.ran else result.message)
        if interval is None or (ticks is not None and len(done) >= ticks):
            return done
        slot, missed = next_tick(slot, interval, time.time())
        if missed:
            echo(f"{missed} tick(s) missed while the last one ran; not caught up")
        time.sleep(max(0.0, slot - time.time()))
