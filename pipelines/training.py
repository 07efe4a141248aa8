"""Training pipeline: footage -> corpus + verdict -> masks -> latent action model -> labels -> VLM.

Each ``*_params`` argument is that stage's params.yaml section (it may name a ``preset``). Later stages
(robot adaptation, evaluation, registry) extend it.
"""

from kfp import dsl

from components.footage import ingest_op, validate_op
from components.lam import lam_label_op, lam_train_op
from components.masks import masks_op
from components.vlm import vlm_pretrain_op


@dsl.pipeline(name="egovla-training", description="Egocentric footage to a latent-action pretrained VLM.")
def training_pipeline(
    sources: list,
    ingest_params: dict = {},
    validate_params: dict = {},
    masks_params: dict = {},
    lam_params: dict = {},
    label_params: dict = {},
    vlm_backbone_params: dict = {},
    vlm_params: dict = {},
):
    ingest = ingest_op(sources=sources, params=ingest_params)
    corpus = ingest.outputs["corpus"]
    verdict = validate_op(corpus=corpus, params=validate_params).outputs["verdict"]
    masks = masks_op(corpus=corpus, verdict=verdict, params=masks_params)
    train = lam_train_op(corpus=corpus, verdict=verdict, masks=masks.outputs["masks"], params=lam_params)
    train.set_display_name("latent action model").set_cpu_request("4").set_memory_request("8G")
    labels = lam_label_op(corpus=corpus, verdict=verdict, run=train.outputs["run"], params=label_params)
    labels.set_display_name("latent action labels")
    vlm = vlm_pretrain_op(
        corpus=corpus,
        verdict=verdict,
        labels=labels.outputs["labels"],
        params=vlm_params,
        vlm_backbone_params=vlm_backbone_params,
    )
    # One GPU per pod here; several nodes run the same command as a PyTorchJob (deploy/vlm-pretrain.yaml).
    vlm.set_display_name("VLM latent-action pretraining").set_accelerator_type("nvidia.com/gpu")
    vlm.set_accelerator_limit(1).set_memory_request("32G")
