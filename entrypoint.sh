#!/usr/bin/env bash
# The image's ENTRYPOINT (exec form). SageMaker runs `IMAGE train` or `IMAGE serve`; the
# pipeline's optional Processing job runs `IMAGE featurize ARGS` (ContainerArguments).
# Each mode is exec'd so that it becomes PID 1 and receives SIGTERM directly.
#
# `serve` started as root drops to the unprivileged account named by RETAILSAGE_SERVE_USER (the
# image sets `retailsage`; empty keeps root), with no_new_privs set (setpriv --no-new-privs: no
# setuid/setcap binary can regain privileges after the drop). `train` keeps the caller's user: SageMaker mounts
# /opt/ml/model, output and checkpoints root-owned, so training runs as root (docs/image.md).
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
  echo "usage: $(basename "$0") train|serve|featurize [ARGS...]" >&2
  echo "  train  run one SageMaker training job against \${SAGEMAKER_BASE_DIR:-/opt/ml}" >&2
  echo "  serve  serve /ping, /invocations, /execution-parameters on :\${SAGEMAKER_BIND_TO_PORT:-8080}" >&2
  echo "  featurize  run the pipeline's featurization as a SageMaker Processing job (\${SAGEMAKER_BASE_DIR:-/opt/ml}/processing)" >&2
}

# exec the serve program, as RETAILSAGE_SERVE_USER when running as root and that is set.
exec_serve() {
  local user="${RETAILSAGE_SERVE_USER:-}"
  if [[ -z "$user" || "$(id -u)" != "0" ]]; then
    exec "$program_dir/serve" "$@"
  fi
  local entry uid gid home
  if ! entry="$(getent passwd "$user")"; then
    echo "error: RETAILSAGE_SERVE_USER='$user' is not an account in this image" >&2
    exit 2
  fi
  IFS=: read -r _ _ uid gid _ home _ <<<"$entry"
  export HOME="$home" USER="$user"
  exec setpriv --reuid="$uid" --regid="$gid" --init-groups --inh-caps=-all --no-new-privs \
    -- "$program_dir/serve" "$@"
}

if [[ $# -lt 1 ]]; then
  usage
  exit 2
fi

mode="$1"
shift
case "$mode" in
  train) exec "$program_dir/train" "$@" ;;
  serve) exec_serve "$@" ;;
  featurize) exec "$program_dir/featurize" "$@" ;;
  -h|--help|help) usage; exit 0 ;;
  *)
    echo "error: unknown mode '$mode'" >&2
    usage
    exit 2
    ;;
esac
