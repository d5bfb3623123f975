#!/usr/bin/env bash
# The image's ENTRYPOINT (exec form). SageMaker runs `IMAGE train` or `IMAGE serve`.
# Each mode is exec'd so that it becomes PID 1 and receives SIGTERM directly.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -n "${RETAILSAGE_PROGRAM_DIR:-}" ]]; then
  program_dir="$RETAILSAGE_PROGRAM_DIR"
elif [[ -x "$here/container/train" ]]; then
  program_dir="$here/container"          # a source checkout (local runs, tests)
else
  program_dir="/opt/program"             # the image
fi

usage() {
  echo "usage: $(basename "$0") train|serve [ARGS...]" >&2
  echo "  train  run one SageMaker training job against \${SAGEMAKER_BASE_DIR:-/opt/ml}" >&2
  echo "  serve  serve /ping, /invocations, /execution-parameters on :\${SAGEMAKER_BIND_TO_PORT:-8080}" >&2
}

if [[ $# -lt 1 ]]; then
  usage
  exit 2
fi

mode="$1"
shift
case "$mode" in
  train) exec "$program_dir/train" "$@" ;;
  serve) exec "$program_dir/serve" "$@" ;;
  -h|--help|help) usage; exit 0 ;;
  *)
    echo "error: unknown mode '$mode'" >&2
    usage
    exit 2
    ;;
esac
