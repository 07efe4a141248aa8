"""Training pipeline: footage -> validated corpus -> masks -> latent action model -> labels -> VLM.

Later stages (robot adaptation, evaluation, registry) extend it.
"""

from kfp import dsl

from components.footage import ingest_op, validate_op
from components.lam import lam_label_op, lam_train_op
from components.masks import masks_op
from components.vlm import vlm_pretrain_op


@dsl.pipeline(name="egovla-training", description="Egocentric footage to latent-action labels.")
def training_pipeline(sources: list, fps: int = 10, size: int = 128, s3_endpoint: str = "",
                      mask_backend: str = "motion", sam2_model: str = "", lam_preset: str = "tiny",
                      lam_steps: int = 0, vlm_backbone: str = "", vlm_preset: str = "tiny", vlm_steps: int = 0,
                      vlm_precision: str = "bf16"):
    ingest = ingest_op(sources=sources, fps=fps, size=size, s3_endpoint=s3_endpoint)
    validate = validate_op(corpus=ingest.outputs["corpus"])
    corpus = validate.outputs["validated"]
    masks = masks_op(corpus=corpus, backend=mask_backend, sam2_model=sam2_model, s3_endpoint=s3_endpoint)
    train = lam_train_op(corpus=corpus, masks=masks.outputs["masks"], preset=lam_preset, steps=lam_steps)
    train.set_display_name("latent action model").set_cpu_request("4").set_memory_request("8G")
    labels = lam_label_op(corpus=corpus, run=train.outputs["run"]).set_display_name("latent action labels")
    vlm = vlm_pretrain_op(corpus=corpus, labels=labels.outputs["labels"], backbone=vlm_backbone, preset=vlm_preset,
                          steps=vlm_steps, precision=vlm_precision, s3_endpoint=s3_endpoint)
    # One GPU per pod here; several nodes run the same command as a PyTorchJob (deploy/vlm-pretrain.yaml).
    vlm.set_display_name("VLM latent-action pretraining").set_accelerator_type("nvidia.com/gpu")
    vlm.set_accelerator_limit(1).set_memory_request("32G")
