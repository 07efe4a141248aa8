"""Registration and gate config: the registered model names and the promotion rule."""

from __future__ import annotations

from egovla.config import StageConfig


class ReleaseConfig(StageConfig):
    SECTION = "release"

    lam_model: str = "egovla-lam"
    vlm_model: str = "egovla-vlm"
    policy_model: str = "egovla-policy"
    # A candidate replaces the champion only if its overall success (points, 0-100) beats the champion's
    # by at least ``margin`` and no task loses more than ``max_task_drop``, on the same eval protocol.
    margin: float = 1.0
    max_task_drop: float = 10.0
    # The LAM and VLM an adaptation-only pipeline starts from: an alias or a version number.
    pretrained_ref: str = "candidate"

    def model_name(self, kind: str) -> str:
        names = {"lam": self.lam_model, "vlm": self.vlm_model, "policy": self.policy_model}
        if kind not in names:
            raise ValueError(f"unknown model kind {kind!r}; valid: {', '.join(names)}")
        return names[kind]
