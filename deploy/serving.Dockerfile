# The policy server's image: the library core and the `serve` extra only (Triton via nvidia-pytriton,
# tritonclient), no training, simulation or orchestration packages. Built by deploy/build.sh.
FROM python:3.11.7-slim-bookworm

WORKDIR /opt/egovla
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 OMP_NUM_THREADS=4 MLFLOW_ENABLE_TELEMETRY=false HF_HUB_OFFLINE=1

# torch first, pinned; pass --build-arg TORCH_INDEX=<your torch wheel index> to pick the CUDA/CPU build.
ARG TORCH_INDEX=
RUN pip install ${TORCH_INDEX:+--index-url "$TORCH_INDEX"} torch==2.13.0

COPY constraints.txt pyproject.toml README.md ./
COPY src ./src
RUN PIP_CONSTRAINT=/opt/egovla/constraints.txt pip install -c constraints.txt ".[serve]" \
 && python -c "import egovla.policy, tritonclient.grpc, pytriton; print('egovla', egovla.__version__)"

USER 1000
EXPOSE 8000 8001 8002
ENTRYPOINT ["egovla"]
