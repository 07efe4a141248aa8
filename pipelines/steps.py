"""The two halves every pipeline is made of, wired once: pretraining on footage, adaptation to a robot.

    pretrain(...) -> (lam run, vlm run, lam version, vlm version)     ingest -> validate -> masks (fan-out)
                                                                      -> LAM -> labels -> VLM -> register
    adapt(...)                                                        demos -> adapt -> eval -> register
                                                                      -> gate -> promote (if it passed)

Cluster settings live here too, so the local runner executes exactly what the cluster does (kfp's local
runner ignores the Kubernetes-only ones): GPUs on LAM, VLM and adaptation, retries on the steps that
talk to an object store or the registry, no cache where a step reads something that changes between
runs (a footage prefix, a registry alias), and the S3 and MLflow credentials from Kubernetes secrets.
"""

from kfp import dsl, kubernetes

from components.footage import ingest_op, validate_op
from components.lam import lam_label_op, lam_train_op
from components.masks import mask_collect_op, mask_shard_op, mask_shards_op
from components.release import fetch_model_op, gate_op, promote_op, register_model_op, register_policy_op
from components.robot import adapt_op, demos_op, eval_op
from components.serving import serving_export_op
from components.vlm import vlm_pretrain_op

# deploy/pipeline-secrets.yaml creates these; each key becomes the environment variable of the same name.
SECRETS = {
    "egovla-s3": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    "egovla-mlflow": ["MLFLOW_TRACKING_URI"],
}
GPU = "nvidia.com/gpu"


def cluster(task: dsl.PipelineTask, *, gpu: bool = False, object_store: bool = False, cache: bool = True):
    for name, keys in SECRETS.items():
        kubernetes.use_secret_as_env(task, secret_name=name, secret_key_to_env={k: k for k in keys})
    if gpu:
        task.set_accelerator_type(GPU).set_accelerator_limit(1)
    if object_store:
        task.set_retry(num_retries=3, backoff_duration="30s", backoff_factor=2.0, backoff_max_duration="600s")
    if not cache:
        task.set_caching_options(False)
    return task


def pretrain(
    sources: list,
    ingest_params: dict,
    validate_params: dict,
    masks_params: dict,
    lam_params: dict,
    label_params: dict,
    vlm_backbone_params: dict,
    vlm_params: dict,
    release_params: dict,
):
    # A scheduled run over a growing prefix must see today's clips: ingest is never served from cache.
    ingest = cluster(ingest_op(sources=sources, params=ingest_params), object_store=True, cache=False)
    corpus = ingest.set_display_name("ingest footage").outputs["corpus"]
    verdict = cluster(validate_op(corpus=corpus, params=validate_params).set_display_name("validate")).outputs[
        "verdict"
    ]
    shards = cluster(mask_shards_op(params=masks_params).set_display_name("mask shards"))
    with dsl.ParallelFor(items=shards.output, name="mask-shard") as shard:
        part = mask_shard_op(corpus=corpus, verdict=verdict, shard=shard, params=masks_params)
        cluster(part.set_display_name("physical masks (shard)").set_cpu_request("2"))
    masks = mask_collect_op(
        corpus=corpus, verdict=verdict, shards=dsl.Collected(part.outputs["masks"]), params=masks_params
    )
    cluster(masks.set_display_name("physical masks (collect)"))
    lam = lam_train_op(corpus=corpus, verdict=verdict, masks=masks.outputs["masks"], params=lam_params)
    cluster(lam.set_display_name("latent action model").set_memory_request("8G"), gpu=True)
    labels = lam_label_op(corpus=corpus, verdict=verdict, run=lam.outputs["run"], params=label_params)
    cluster(labels.set_display_name("latent action labels"))
    vlm = vlm_pretrain_op(
        corpus=corpus,
        verdict=verdict,
        labels=labels.outputs["labels"],
        params=vlm_params,
        vlm_backbone_params=vlm_backbone_params,
    )
    # One GPU per pod here; several nodes run the same command as a PyTorchJob (deploy/vlm-pretrain.yaml).
    cluster(vlm.set_display_name("VLM latent-action pretraining").set_memory_request("32G"), gpu=True)
    run_id = dsl.PIPELINE_JOB_ID_PLACEHOLDER
    lam_version = register_model_op(
        kind="lam", run=lam.outputs["run"], corpus=corpus, run_id=run_id, params=release_params
    )
    cluster(lam_version.set_display_name("register LAM"), object_store=True)
    vlm_version = register_model_op(
        kind="vlm", run=vlm.outputs["run"], corpus=corpus, run_id=run_id, params=release_params
    )
    cluster(vlm_version.set_display_name("register VLM"), object_store=True)
    return lam.outputs["run"], vlm.outputs["run"], lam_version.outputs["Output"], vlm_version.outputs["Output"]


def fetch_pretrained(release_params: dict):
    """The registry's LAM and VLM (``release.pretrained_ref``) for an adaptation-only run."""
    lam = cluster(fetch_model_op(kind="lam", params=release_params), object_store=True, cache=False)
    vlm = cluster(fetch_model_op(kind="vlm", params=release_params), object_store=True, cache=False)
    lam.set_display_name("fetch LAM")
    vlm.set_display_name("fetch VLM")
    return lam.outputs["model"], vlm.outputs["model"], lam.outputs["Output"], vlm.outputs["Output"]


def adapt(
    lam,
    vlm,
    lam_version,
    vlm_version,
    demos_params: dict,
    adapt_params: dict,
    eval_params: dict,
    release_params: dict,
    serving_params: dict,
):
    # Demos are rendered, or read from demos.source (a robot's own dataset, which may grow): no cache.
    dataset = cluster(demos_op(params=demos_params).set_display_name("robot demonstrations"), cache=False)
    run = adapt_op(dataset=dataset.outputs["dataset"], vlm=vlm, lam=lam, params=adapt_params)
    cluster(run.set_display_name("adapt (intent + perception -> action expert)").set_memory_request("16G"), gpu=True)
    report = cluster(eval_op(policy=run.outputs["run"], params=eval_params).set_display_name("closed-loop eval"))
    version = register_policy_op(
        run=run.outputs["run"],
        dataset=dataset.outputs["dataset"],
        report=report.outputs["report"],
        lam_version=lam_version,
        vlm_version=vlm_version,
        run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        params=release_params,
    )
    cluster(version.set_display_name("register policy"), object_store=True)
    gate = cluster(
        gate_op(version=version.outputs["Output"], params=release_params).set_display_name("gate"), cache=False
    )
    with dsl.If(gate.outputs["Output"] == "promote", name="gate-passed"):
        promote = promote_op(version=version.outputs["Output"], gate=gate.outputs["record"], params=release_params)
        cluster(promote.set_display_name("promote to champion"), cache=False)
        served = serving_export_op(version=promote.output, params=serving_params, release_params=release_params)
        cluster(served.set_display_name("serving export"), object_store=True)
