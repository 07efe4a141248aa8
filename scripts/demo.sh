#!/usr/bin/env bash
# The main job on the embedded default: sample footage, local files, SQLite MLflow.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/egovla demo "$@"
