#!/usr/bin/env bash
# Creates (or refreshes) the project venv from the committed lock. Does nothing when it is current.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${EGOVLA_VENV:-.venv}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
stamp="$VENV/.egovla-lock"
want=$(cat constraints.txt pyproject.toml | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
echo "setting up $VENV (first run takes ~10 minutes)" >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# torch first and pinned in every later call: an unpinned resolve pulls a multi-GB CUDA build.
"$VENV/bin/pip" install -q torch==2.13.0
# PIP_CONSTRAINT also reaches isolated build environments (deepspeed's sdist build).
PIP_CONSTRAINT="$PWD/constraints.txt" "$VENV/bin/pip" install -q -c constraints.txt -e ".[dev]"
echo "$want" > "$stamp"
