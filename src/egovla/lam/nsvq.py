"""Noise-substitution vector quantisation (NSVQ; Vali & Bäckström 2022), as LAPA trains its latent
actions.

Training passes z + ||z - q|| * u forward, u a random unit direction, instead of the straight-
through estimate z + sg(q - z): the decoder meets noise exactly as large as the quantisation
error, while the encoder gets the true gradient of z and the codebook learns through the noise's
magnitude; no commitment or codebook loss is needed (adding them lowered swap invariance in a
trial). Inference returns the nearest code, as any VQ. Codes left unused (EMA usage below a
threshold) are re-seeded from the batch.

Why not the EMA codebook with straight-through (vector-quantize-pytorch, the reference code's
choice, still available as `quantizer: vq`): at CPU scale its action codes did not follow the
actor's motion at all (displacement probe R^2 below zero), NSVQ's did; see the LAM benchmark.
"""

from __future__ import annotations

import torch
from torch import nn


class NoiseSubstitutionVQ(nn.Module):
    def __init__(self, dim: int, codes: int, dead_code_threshold: float = 0.05, decay: float = 0.95):
        super().__init__()
        self.codebook = nn.Parameter(torch.randn(codes, dim) * 0.1)
        # decayed count of assignments; starts at zero, so codes the first batch leaves unused are seeded
        # from its samples (a data-dependent init)
        self.register_buffer("usage", torch.zeros(codes))
        self.dead_code_threshold, self.decay = dead_code_threshold, decay

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z (..., dim) -> (quantised or noise-substituted z, code indices (...), auxiliary loss)."""
        flat = z.reshape(-1, z.shape[-1])
        index = torch.cdist(flat, self.codebook).argmin(-1)
        nearest = self.codebook[index]
        aux = torch.zeros((), device=z.device)
        if not self.training:
            return nearest.view_as(z), index.view(z.shape[:-1]), aux
        noise = torch.randn_like(flat)
        scale = (flat - nearest).norm(dim=-1, keepdim=True) / noise.norm(dim=-1, keepdim=True).clamp_min(1e-9)
        out = flat + scale * noise
        self._restart_dead_codes(flat.detach(), index)
        return out.view_as(z), index.view(z.shape[:-1]), aux

    @torch.no_grad()
    def _restart_dead_codes(self, flat: torch.Tensor, index: torch.Tensor) -> None:
        counts = torch.bincount(index, minlength=len(self.codebook)).float()
        self.usage.mul_(self.decay).add_(counts)
        dead = (self.usage < self.dead_code_threshold).nonzero().ravel()
        if len(dead):
            picks = torch.randint(0, len(flat), (len(dead),), device=flat.device)
            self.codebook.data[dead] = flat[picks] + 0.01 * torch.randn_like(flat[picks])
            self.usage[dead] = 1.0
