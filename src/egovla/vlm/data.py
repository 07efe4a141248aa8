"""(frame t, instruction) -> action codes of transition (t, t+k), from a corpus labelled by `lam label`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from egovla.ingest.store import Corpus
from egovla.lam.store import read_codes
from egovla.validate.store import usable_episodes


@dataclass
class Examples:
    frames: np.ndarray  # uint8 (N, H, W, 3): frame t of each transition
    instructions: list[str]
    codes: np.ndarray  # int64 (N, tokens)
    episodes: np.ndarray  # int64 (N,)

    def __len__(self) -> int:
        return len(self.codes)

    def take(self, index: np.ndarray) -> Examples:
        return Examples(
            self.frames[index], [self.instructions[i] for i in index], self.codes[index], self.episodes[index]
        )


def load_examples(
    corpus_dir: str | Path,
    default_instruction: str,
    labels_dir: str | Path | None = None,
    verdict_dir: str | Path | None = None,
) -> Examples:
    corpus = Corpus(corpus_dir)
    manifest = corpus.manifest().set_index("episode_index")
    frames, instructions, codes, episodes = [], [], [], []
    for e in usable_episodes(corpus, verdict_dir):
        try:
            episode_codes = read_codes(corpus_dir, e, folder=labels_dir)
        except FileNotFoundError:
            continue  # too short to hold a transition, so `lam label` skipped it
        task = str(manifest.loc[e, "task"] or "").strip() or default_instruction
        frames.append(corpus.read_frames(e)[: len(episode_codes)])
        instructions += [task] * len(episode_codes)
        codes.append(episode_codes)
        episodes.append(np.full(len(episode_codes), e, dtype=np.int64))
    if not codes:
        raise ValueError(f"{corpus_dir}: no labelled transitions in any usable episode")
    return Examples(np.concatenate(frames), instructions, np.concatenate(codes), np.concatenate(episodes))


def split(examples: Examples, eval_fraction: float, seed: int) -> tuple[Examples, Examples]:
    """Held-out episodes (not frames: neighbouring frames of one clip are near copies)."""
    unique = np.unique(examples.episodes)
    if len(unique) < 2:
        raise ValueError("need at least 2 labelled episodes to hold some out for evaluation")
    held = max(1, round(eval_fraction * len(unique)))
    held_out = np.random.default_rng(seed).permutation(unique)[:held]
    is_eval = np.isin(examples.episodes, held_out)
    return examples.take(np.flatnonzero(~is_eval)), examples.take(np.flatnonzero(is_eval))
