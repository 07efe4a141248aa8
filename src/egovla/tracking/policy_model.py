"""The policy as an MLflow pyfunc model, written as *models from code*: MLflow stores this file, not a
pickled object, and ``mlflow.pyfunc.load_model("models:/egovla-policy@champion")`` rebuilds the policy
from the safetensors checkpoint logged beside it (``artifacts["policy"]``).

Input: a dict of arrays keyed by the policy's LeRobot feature keys (image uint8 (B, H, W, 3), state
float32 (B, S)) plus ``task`` (B strings). Output: ``{"action": (B, chunk, A)}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from mlflow.pyfunc import PythonModel


def _observation(model_input: dict[str, Any]) -> dict[str, Any]:
    obs = {k: np.asarray(v) for k, v in model_input.items()}
    if "task" in obs:
        obs["task"] = [str(t) for t in np.atleast_1d(obs["task"])]
    return obs


def predict_example(policy_dir: str | Path, example: dict[str, Any]) -> dict[str, np.ndarray]:
    from egovla.policy.policy import Policy

    return Policy.from_pretrained(policy_dir).infer(_observation(example))


class PolicyModel(PythonModel):
    def load_context(self, context) -> None:
        from egovla.policy.policy import Policy

        self.policy = Policy.from_pretrained(context.artifacts["policy"])

    # no type hints: MLflow would read them as a schema of its own; the logged signature is the schema
    def predict(self, context, model_input, params=None):
        return self.policy.infer(_observation(model_input))


mlflow.models.set_model(PolicyModel())
