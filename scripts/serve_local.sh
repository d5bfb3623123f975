#!/usr/bin/env bash
# Serve a model directory locally, like SageMaker would, on 127.0.0.1 only.
#   scripts/serve_local.sh MODEL_DIR [PORT]                 # entrypoint.sh serve from this checkout
#   scripts/serve_local.sh --image IMAGE MODEL_DIR [PORT]   # the built image, via podman/docker
# Extra SAGEMAKER_* variables (SAGEMAKER_MODEL_SERVER_WORKERS, SAGEMAKER_BATCH, ...) pass through.
set -euo pipefail

usage() {
  sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//' >&2
}

image=""
positional=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --image) image="${2:?--image needs a value}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) positional+=("$1"); shift ;;
  esac
done
if [[ ${#positional[@]} -lt 1 || ${#positional[@]} -gt 2 ]]; then
  usage
  exit 2
fi
model_dir="$(cd "${positional[0]}" && pwd)"
port="${positional[1]:-8080}"

if [[ -n "$image" ]]; then
  passthrough=()
  while IFS= read -r name; do passthrough+=(-e "$name"); done < <(compgen -e | grep '^SAGEMAKER_' || true)
  if docker info >/dev/null 2>&1; then
    exec docker run --rm -p "127.0.0.1:${port}:8080" -v "${model_dir}:/opt/ml/model:ro" \
      "${passthrough[@]}" "$image" serve
  elif podman info >/dev/null 2>&1; then
    # podman without cgroup delegation (our machines): runc, explicit ulimits, host network
    # bound to loopback only (see docs/image.md)
    runtime=()
    if command -v runc >/dev/null; then runtime=(--runtime runc); fi
    exec podman "${runtime[@]}" run --rm --network host \
      --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
      -e SAGEMAKER_BIND_TO_ADDRESS=127.0.0.1 -e "SAGEMAKER_BIND_TO_PORT=${port}" \
      -v "${model_dir}:/opt/ml/model:ro" "${passthrough[@]}" "$image" serve
  fi
  echo "error: --image needs a docker engine or podman that answers" >&2
  exit 1
fi

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${RETAILSAGE_PYTHON:-}" && -x "$repo/.venv/bin/python" ]]; then
  export RETAILSAGE_PYTHON="$repo/.venv/bin/python"
fi
export SM_MODEL_DIR="$model_dir"
export SAGEMAKER_BIND_TO_ADDRESS=127.0.0.1
export SAGEMAKER_BIND_TO_PORT="$port"
exec "$repo/entrypoint.sh" serve
