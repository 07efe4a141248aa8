"""Hybrid disentangled VQ-VAE over frame pairs: the latent action model (LAM).

    frames (t, t+k) -> frozen features -> encoder over [action queries | background queries | patches]
    ("temporal": patches of both frames, t cannot attend to t+k, the t+k queries are read out;
     "early": one token per patch holding t and t+k - t) -> the queries become the latents:
      action: codebook (cross-embodiment actions; NSVQ or EMA VQ), `action_tokens` codes per transition
      background: VQ codebook, or continuous (Gaussian, KL-regularised)
    decoder over [action latents | background latents | frame-t patches] predicts t+k features three
    ways: action only (background latents zeroed), background only, both.
Masks enter the loss only: the action-only prediction is scored on foreground patches, the
background-only one on background patches, the full one everywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from vector_quantize_pytorch import VectorQuantize

from egovla.io.models import find_model_dir
from egovla.lam.config import ModelConfig
from egovla.lam.features import build_features
from egovla.lam.nsvq import NoiseSubstitutionVQ


def _transformer(dim: int, heads: int, layers: int) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        dim, heads, 4 * dim, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
    )
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


def _vq(cfg: ModelConfig, codes: int) -> VectorQuantize:
    return VectorQuantize(
        dim=cfg.latent_dim,
        codebook_size=codes,
        decay=cfg.ema_decay,
        commitment_weight=cfg.commitment,
        kmeans_init=False,
        threshold_ema_dead_code=cfg.dead_code_threshold,
    )


@dataclass
class Latents:
    action: torch.Tensor  # (B, A, latent) quantised
    action_codes: torch.Tensor  # (B, A) int64
    background: torch.Tensor | None  # (B, Bt, latent)
    background_codes: torch.Tensor | None  # (B, Bt) int64 when the background is discrete
    aux_loss: torch.Tensor  # commitment (+ KL)


class LatentActionModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.features = build_features(cfg.features, cfg.image_size, cfg.patch_size)
        feat_dim, dim = self.features.dim, cfg.model_dim
        self.patches = (cfg.image_size // self.features.patch_size) ** 2
        self.n_action = cfg.action_tokens
        self.n_background = 0 if cfg.single_codebook else cfg.background_tokens
        queries = self.n_action + self.n_background

        self.early = cfg.fusion == "early"
        self.enc_in = nn.Linear(2 * feat_dim if self.early else feat_dim, dim)
        self.queries = nn.Parameter(torch.randn(1, queries, dim) * 0.02)
        self.enc_pos = nn.Parameter(torch.randn(1, 1, queries + self.patches, dim) * 0.02)
        self.enc_time = nn.Parameter(torch.randn(1, 2, 1, dim) * 0.02)
        self.encoder = _transformer(dim, cfg.heads, cfg.enc_layers)
        length = queries + self.patches
        frame = torch.arange(2 * length) // length
        self.register_buffer("enc_mask", frame[:, None] < frame[None, :], persistent=False)  # t cannot see t+k

        self.to_action = nn.Linear(dim, cfg.latent_dim)
        self.vq_action = (
            NoiseSubstitutionVQ(cfg.latent_dim, cfg.action_codes)
            if cfg.quantizer == "nsvq"
            else _vq(cfg, cfg.action_codes)
        )
        if self.n_background:
            out = cfg.latent_dim * (1 if cfg.background == "vq" else 2)  # continuous: mean and log-variance
            self.to_background = nn.Linear(dim, out)
            self.vq_background = _vq(cfg, cfg.background_codes) if cfg.background == "vq" else None

        self.dec_in = nn.Linear(feat_dim, dim)
        self.action_up = nn.Linear(cfg.latent_dim, dim)
        self.background_up = nn.Linear(cfg.latent_dim, dim) if self.n_background else None
        self.dec_pos = nn.Parameter(torch.randn(1, queries + self.patches, dim) * 0.02)
        self.decoder = _transformer(dim, cfg.heads, cfg.dec_layers)
        self.head = nn.Linear(dim, feat_dim)

    # ----- encoding ------------------------------------------------------------------------------
    def prepare(self, frames) -> torch.Tensor:
        """uint8 (B, H, W, 3) arrays or float (B, 3, H, W) tensors in [0, 1] -> model-size tensor."""
        size = self.cfg.image_size
        if isinstance(frames, np.ndarray):  # the same INTER_AREA resize the training data went through
            if frames.shape[1:3] != (size, size):
                frames = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames])
            frames = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0
        frames = frames.to(self.queries.device, torch.float32)
        if frames.shape[-1] != size:
            frames = F.interpolate(frames, size=(size, size), mode="area")
        return frames

    def encode_pair(self, feats_t: torch.Tensor, feats_tk: torch.Tensor) -> torch.Tensor:
        """The encoder's query outputs (B, queries, dim) for a pair of frames."""
        batch = feats_t.shape[0]
        if self.early:  # each patch token holds both frames and their change
            tokens = self.enc_in(torch.cat([feats_t, feats_tk - feats_t], -1))
            x = torch.cat([self.queries.expand(batch, -1, -1), tokens], 1) + self.enc_pos[:, 0]
            return self.encoder(x)[:, : self.n_action + self.n_background]
        tokens = self.enc_in(torch.stack([feats_t, feats_tk], 1))  # B, 2, N, D
        queries = self.queries.unsqueeze(1).expand(batch, 2, -1, -1)
        x = torch.cat([queries, tokens], 2) + self.enc_pos + self.enc_time
        x = self.encoder(x.flatten(1, 2), mask=self.enc_mask).view(batch, 2, -1, x.shape[-1])
        return x[:, 1, : self.n_action + self.n_background]  # t+k queries: they have seen both frames

    def latents(self, feats_t: torch.Tensor, feats_tk: torch.Tensor) -> Latents:
        q = self.encode_pair(feats_t, feats_tk)
        action, action_codes, commit = self.vq_action(self.to_action(q[:, : self.n_action]))
        aux = commit.sum()
        background = background_codes = None
        if self.n_background:
            z = self.to_background(q[:, self.n_action :])
            if self.vq_background is not None:
                background, background_codes, bg_commit = self.vq_background(z)
                aux = aux + bg_commit.sum()
            else:
                mean, log_var = z.chunk(2, -1)
                log_var = log_var.clamp(-8, 8)
                background = mean + torch.randn_like(mean) * (0.5 * log_var).exp() if self.training else mean
                aux = aux + 1e-3 * 0.5 * (mean.pow(2) + log_var.exp() - 1 - log_var).mean()
        return Latents(action, action_codes, background, background_codes, aux)

    def decode(
        self, feats_t: torch.Tensor, action: torch.Tensor | None, background: torch.Tensor | None
    ) -> torch.Tensor:
        batch = feats_t.shape[0]
        parts = [
            self.action_up(action)
            if action is not None
            else torch.zeros(batch, self.n_action, self.cfg.model_dim, device=feats_t.device)
        ]
        if self.n_background:
            parts.append(
                self.background_up(background)
                if background is not None
                else torch.zeros(batch, self.n_background, self.cfg.model_dim, device=feats_t.device)
            )
        x = torch.cat([*parts, self.dec_in(feats_t)], 1) + self.dec_pos
        # Residual: the latents must explain what changes, not re-draw frame t.
        return feats_t + self.head(self.decoder(x)[:, -self.patches :])

    # ----- training ------------------------------------------------------------------------------
    def forward(
        self, frames_t: torch.Tensor, frames_tk: torch.Tensor, fg: torch.Tensor | None = None, cached: bool = False
    ) -> dict:
        """Losses for a batch. ``fg``: (B, N) foreground share of each patch, from the masks;
        ``cached``: the inputs are already the frozen features' tokens (B, N, D), from a cache."""
        feats_t, feats_tk = self.tokens(frames_t, cached), self.tokens(frames_tk, cached)
        z = self.latents(feats_t, feats_tk)
        err_full = (self.decode(feats_t, z.action, z.background) - feats_tk).pow(2).mean(-1)  # B, N
        out = {
            "loss_full": err_full.mean(),
            "aux": z.aux_loss,
            "action_codes": z.action_codes,
            "background_codes": z.background_codes,
        }
        loss = out["loss_full"] + z.aux_loss
        if self.n_background and fg is not None:
            err_action = (self.decode(feats_t, z.action, None) - feats_tk).pow(2).mean(-1)
            err_background = (self.decode(feats_t, None, z.background) - feats_tk).pow(2).mean(-1)
            bg = 1.0 - fg
            out["loss_action_fg"] = (err_action * fg).sum() / fg.sum().clamp_min(1e-6)
            out["loss_background_bg"] = (err_background * bg).sum() / bg.sum().clamp_min(1e-6)
            loss = loss + out["loss_action_fg"] + out["loss_background_bg"]
        out["loss"] = loss
        return out

    # ----- inference -----------------------------------------------------------------------------
    def tokens(self, frames, cached: bool = False) -> torch.Tensor:
        """The frozen features' tokens (B, N, D) of frames; ``cached``: they already are tokens."""
        return frames if cached else self.features(self.prepare(frames))

    @torch.no_grad()
    def encode_all(self, frames_t, frames_tk, cached: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Action codes (B, action_tokens) and background codes (B, background_tokens) or None."""
        was_training = self.training
        self.eval()
        z = self.latents(self.tokens(frames_t, cached), self.tokens(frames_tk, cached))
        self.train(was_training)
        background = z.background_codes.cpu().numpy() if z.background_codes is not None else None
        return z.action_codes.cpu().numpy(), background

    def encode(self, frames_t, frames_tk) -> np.ndarray:
        """Latent action codes of frame pairs: int array (B, action_tokens)."""
        return self.encode_all(frames_t, frames_tk)[0]

    # ----- persistence ---------------------------------------------------------------------------
    def trainable_state(self) -> dict[str, torch.Tensor]:
        """Everything but the frozen backbone (it is referenced by path in the config)."""
        return {k: v.detach().contiguous() for k, v in self.state_dict().items() if not k.startswith("features.")}

    def save_pretrained(self, out_dir: str | Path) -> None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        save_file(self.trainable_state(), str(out / "model.safetensors"))
        (out / "config.json").write_text(json.dumps(self.cfg.model_dump(mode="json"), indent=2, sort_keys=True))

    @classmethod
    def from_pretrained(cls, model_dir: str | Path, device: str = "cpu") -> LatentActionModel:
        """A saved LAM folder, or a `lam train` run folder (its ``ours/model``)."""
        folder = find_model_dir(model_dir, ("model.safetensors",), "ours/model", "latent action", "egovla lam train")
        saved = json.loads((folder / "config.json").read_text())
        # models saved before these options existed were built the paper's way
        model = cls(ModelConfig(**{"fusion": "temporal", "quantizer": "vq", **saved}))
        missing, unexpected = model.load_state_dict(load_file(str(folder / "model.safetensors")), strict=False)
        missing = [k for k in missing if not k.startswith("features.")]
        if missing or unexpected:
            raise ValueError(f"{folder}: weights do not match the config (missing {missing}, unexpected {unexpected})")
        return model.to(device).eval()
