"""The action expert: attention pooling (MAP) over [intent; perception; state] tokens -> an action chunk.

Each input stream gets its own trainable projection and a learned type/position embedding, an
optional small transformer mixes them, and one learned query per chunk step attends over the result
(multi-head attention pooling). Optionally the queries are shifted by the state and the intent (or
task), so where they look depends on what the robot is doing and asked to do. The L1
head regresses the normalised chunk; the flow-matching head predicts the velocity from noise to the
chunk, conditioned the same way, and integrates it at inference.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from egovla.policy.config import ExpertConfig


class MAPHead(nn.Module):
    def __init__(self, dim: int, heads: int, queries: int):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(1, queries, dim) * 0.02)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, tokens: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        queries = self.queries.expand(len(tokens), -1, -1)
        if extra is not None:
            queries = queries + extra
        pooled, _ = self.attention(queries, tokens, tokens, need_weights=False)
        return pooled + self.mlp(self.norm(pooled))


class ActionExpert(nn.Module):
    def __init__(
        self,
        cfg: ExpertConfig,
        chunk: int,
        action_dim: int,
        state_dim: int,
        intent_width: int | None,
        intent_tokens: int,
        perception_width: int | None,
        perception_tokens: int,
        tasks: int,
    ):
        super().__init__()
        dim = cfg.dim
        self.cfg, self.chunk, self.action_dim = cfg, chunk, action_dim
        self.state = nn.Linear(state_dim, dim)
        self.intent = nn.Linear(intent_width, dim) if intent_width else None
        self.task = nn.Embedding(tasks, dim) if not intent_width else None  # behaviour cloning's one-hot
        self.perception = nn.Linear(perception_width, dim) if perception_width else None
        streams = 1 + (intent_tokens if intent_width else 1) + (perception_tokens if perception_width else 0)
        self.position = nn.Parameter(torch.randn(1, streams, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, cfg.heads, 4 * dim, cfg.dropout, batch_first=True, norm_first=True)
        # layers = 0: the queries pool the projected tokens directly (MAP alone)
        self.mixer = (
            nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False) if cfg.layers else nn.Identity()
        )
        self.pool = MAPHead(dim, cfg.heads, chunk)
        self.out = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, action_dim))
        self.condition = nn.Linear(dim, dim) if cfg.condition_queries else None
        if cfg.head == "flow":
            self.noisy_action = nn.Linear(action_dim, dim)
            self.time = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def context(
        self,
        state: torch.Tensor,
        intent: torch.Tensor | None = None,
        perception: torch.Tensor | None = None,
        task: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """state (B, S) normalised; intent (B, Ti, Wi); perception (B, Tp, Wp); task (B,) indices."""
        cue = self.intent(intent) if self.intent is not None else self.task(task)[:, None]
        first = self.state(state)[:, None]
        if self.condition is not None:  # token 0 also carries the cue: the queries read it in _pool
            first = first + cue.mean(1, keepdim=True)
        parts = [first, cue] + ([self.perception(perception)] if self.perception is not None else [])
        return self.mixer(torch.cat(parts, 1) + self.position)

    def _pool(self, context: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        if self.condition is not None:
            shift = self.condition(context[:, :1])
            extra = shift if extra is None else extra + shift
        return self.pool(context, extra)

    def _time_embedding(self, t: torch.Tensor) -> torch.Tensor:
        half = self.cfg.dim // 2
        freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device) / half)
        angles = t[:, None] * 1000.0 * freqs[None]
        return self.time(torch.cat([angles.sin(), angles.cos()], -1))

    def _velocity(self, context: torch.Tensor, noisy: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        extra = self.noisy_action(noisy) + self._time_embedding(t)[:, None]
        return self.out(self._pool(context, extra))

    def loss(self, context: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """target (B, chunk, A) normalised; valid (B, chunk): steps inside the episode."""
        if self.cfg.head == "l1":
            error = (self.out(self._pool(context)) - target).abs()
        else:  # rectified flow: x_t = (1 - t) noise + t action, velocity = action - noise
            noise = torch.randn_like(target)
            t = torch.rand(len(target), device=target.device)
            noisy = (1 - t[:, None, None]) * noise + t[:, None, None] * target
            error = (self._velocity(context, noisy, t) - (target - noise)).pow(2)
        weights = valid[..., None].float()
        return (error * weights).sum() / (weights.sum() * self.action_dim).clamp(min=1.0)

    @torch.no_grad()
    def sample(self, context: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The normalised chunk (B, chunk, A)."""
        if self.cfg.head == "l1":
            return self.out(self._pool(context))
        x = torch.randn(len(context), self.chunk, self.action_dim, generator=generator, device=context.device)
        steps = self.cfg.flow_steps
        for i in range(steps):
            t = torch.full((len(context),), i / steps, device=context.device)
            x = x + self._velocity(context, x, t) / steps
        return x
