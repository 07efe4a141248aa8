"""Held-out accuracy of predicted action codes, next to majority-code baselines from the training set, and
held-out loss next to the loss of the training set's code statistics (what is known without the frame)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from egovla.vlm.backbone import Backbone
from egovla.vlm.data import Examples


def predict(backbone: Backbone, data: Examples, batch: int) -> np.ndarray:
    tokens = data.codes.shape[1]
    backbone.model.eval()
    return np.concatenate(
        [
            backbone.predict(data.frames[s : s + batch], data.instructions[s : s + batch], tokens)
            for s in range(0, len(data), batch)
        ]
    )


@torch.no_grad()
def held_out_loss(backbone: Backbone, data: Examples, batch: int) -> float:
    """Cross-entropy on the action tokens with the true earlier tokens given (teacher forcing)."""
    total, count = 0.0, 0
    for s in range(0, len(data), batch):
        inputs = backbone.batch(data.frames[s : s + batch], data.instructions[s : s + batch], data.codes[s : s + batch])
        n = int((inputs["labels"] != -100).sum())
        total += float(backbone.model(**inputs).loss) * n
        count += n
    return total / count


def accuracy(predicted: np.ndarray, true: np.ndarray) -> dict[str, float]:
    hits = predicted == true
    return {"token_accuracy": float(hits.mean()), "code_accuracy": float(hits.all(1).mean())}


def majority_baselines(train_codes: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Most frequent code per token position, and the most frequent whole code, as constant guesses."""
    per_position = np.array([np.bincount(train_codes[:, j]).argmax() for j in range(train_codes.shape[1])])
    whole = np.array(Counter(map(tuple, train_codes)).most_common(1)[0][0])
    return {
        "majority_token_accuracy": float((true == per_position).mean()),
        "majority_code_accuracy": float((true == whole).all(1).mean()),
    }


def prior_loss(train_codes: np.ndarray, true: np.ndarray, size: int) -> float:
    """Held-out cross-entropy per action token of the blind sequence prior p(c_j | c_<j), counted on the
    training codes (add-one smoothed): the teacher-forced ``held_out_loss`` a model reaches without
    looking at the frame or the instruction. The tokens of one code are strongly tied, so this prior
    already gets the later tokens nearly right; the first token is where the frame has to help."""
    counts: dict[tuple, np.ndarray] = {}
    for row in train_codes:
        for j in range(len(row)):
            counts.setdefault(tuple(row[:j]), np.zeros(size))[row[j]] += 1
    total = 0.0
    for row in true:
        for j in range(len(row)):
            seen = counts.get(tuple(row[:j]), np.zeros(size)) + 1.0
            total -= float(np.log(seen[row[j]] / seen.sum()))
    return total / true.size
