# The image every egovla kfp component and the PyTorchJob run in (components.COMPONENT_IMAGE).
# Built by deploy/build.sh under the tag in deploy/kustomization.yaml.
FROM python:3.11.7-slim-bookworm

# A C++ toolchain: DeepSpeed JIT-compiles its ops on first use. EGL: Meta-World renders headless.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential git libegl1 libgl1 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/egovla
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 OMP_NUM_THREADS=4 \
    MLFLOW_ENABLE_TELEMETRY=false GX_ANALYTICS_ENABLED=false DVC_NO_ANALYTICS=1 HF_HUB_OFFLINE=1

# torch first, pinned; pass --build-arg TORCH_INDEX=<your torch wheel index> to pick the CUDA/CPU build.
ARG TORCH_INDEX=
RUN pip install ${TORCH_INDEX:+--index-url "$TORCH_INDEX"} torch==2.13.0

COPY constraints.txt pyproject.toml README.md ./
COPY src ./src
COPY components ./components
COPY pipelines ./pipelines
COPY deploy/kustomization.yaml ./deploy/
RUN PIP_CONSTRAINT=/opt/egovla/constraints.txt pip install -c constraints.txt ".[train,sim,pipelines]" \
 && python -c "import egovla, kfp, cv2, av; print('egovla', egovla.__version__)"

ENV PYTHONPATH=/opt/egovla
USER 1000
ENTRYPOINT []
