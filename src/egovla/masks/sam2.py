"""`sam2` mask backend: SAM2 video propagation, prompted from the motion masks.

The motion backend finds where the actor moves; SAM2 turns those hints into object-level masks
that stay on the hand and object while they pause. Weights come from a local folder or an s3://
prefix (a Sam2VideoModel saved with save_pretrained); there is no hub download. Processors need
torchvision, so frames are normalised here and fed as tensors.
"""

from __future__ import annotations

import cv2
import numpy as np

from egovla.io.models import resolve_model_dir
from egovla.io.sources import S3Settings
from egovla.masks.motion import MaskResult

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


class Sam2Masker:
    def __init__(self, model_uri: str, s3: S3Settings | None = None, max_points: int = 3):
        import torch
        from transformers import Sam2VideoModel

        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = Sam2VideoModel.from_pretrained(resolve_model_dir(model_uri, s3)).to(self.device).eval()
        self.size = int(self.model.config.image_size)
        self.max_points = max_points

    def _video(self, frames: np.ndarray):
        resized = np.stack([cv2.resize(f, (self.size, self.size), interpolation=cv2.INTER_AREA) for f in frames])
        normalised = (resized.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
        return self.torch.from_numpy(normalised).permute(0, 3, 1, 2).contiguous()

    def _prompt_points(self, mask: np.ndarray) -> np.ndarray:
        """Centroids of the largest components of a motion mask, in model-input pixels."""
        count, _, stats, centroids = cv2.connectedComponentsWithStats(mask.astype(np.uint8))
        order = np.argsort(-stats[1:, cv2.CC_STAT_AREA])[: self.max_points] + 1
        scale = np.array([self.size / mask.shape[1], self.size / mask.shape[0]], np.float32)
        return centroids[order].astype(np.float32) * scale

    def __call__(self, frames: np.ndarray, hints: MaskResult) -> MaskResult:
        from transformers.models.sam2_video.modeling_sam2_video import Sam2VideoInferenceSession

        count, height, width = frames.shape[:3]
        masks = np.zeros((count, height, width), bool)
        flags = [list(f) for f in hints.flags]
        prompted = [t for t in range(count) if hints.masks[t].any()]
        if not prompted:
            for f in flags:
                f.append("no_prompt")
            return MaskResult(masks, flags)
        start = prompted[0]
        points = self._prompt_points(hints.masks[start])
        session = Sam2VideoInferenceSession(
            video=self._video(frames),
            video_height=self.size,
            video_width=self.size,
            inference_device=self.device,
            dtype=self.torch.float32,
        )
        obj_idx = session.obj_id_to_idx(1)
        session.add_point_inputs(
            obj_idx,
            start,
            {
                "point_coords": self.torch.from_numpy(points)[None, None],
                "point_labels": self.torch.ones((1, 1, len(points)), dtype=self.torch.int32),
            },
        )
        session.obj_with_new_inputs = [1]
        with self.torch.no_grad():
            self.model(inference_session=session, frame_idx=start)
            outputs = list(self.model.propagate_in_video_iterator(session, start_frame_idx=start))
            if start > 0:
                outputs += list(self.model.propagate_in_video_iterator(session, start_frame_idx=start, reverse=True))
        for out in outputs:
            logits = out.pred_masks[0, 0].float().cpu().numpy()
            masks[out.frame_idx] = cv2.resize(logits, (width, height), interpolation=cv2.INTER_LINEAR) > 0
        return MaskResult(masks, flags)
