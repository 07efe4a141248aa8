"""Robot adaptation: the intent-perception decoupled policy and the `adapt` stage that trains it."""

from egovla.policy.config import AdaptConfig, ExecutionConfig, PolicyConfig
from egovla.policy.execution import ChunkExecutor
from egovla.policy.policy import Policy
from egovla.policy.stage import run

__all__ = ["AdaptConfig", "ChunkExecutor", "ExecutionConfig", "Policy", "PolicyConfig", "run"]
