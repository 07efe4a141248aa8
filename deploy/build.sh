#!/usr/bin/env bash
# Builds (and with --push, pushes) both images under the tags deploy/kustomization.yaml holds.
set -euo pipefail
cd "$(dirname "$0")/.."
image() {
  python3 - "$1" <<'PY'
import sys, yaml
doc = yaml.safe_load(open("deploy/kustomization.yaml"))
entry = next(i for i in doc["images"] if i["name"] == sys.argv[1])
print(f"{entry['newName']}:{entry['newTag']}")
PY
}
component=$(image egovla-component)
serving=$(image egovla-serving)
docker build -f deploy/component.Dockerfile -t "$component" .
docker build -f deploy/serving.Dockerfile -t "$serving" .
if [ "${1:-}" = "--push" ]; then docker push "$component" && docker push "$serving"; fi
