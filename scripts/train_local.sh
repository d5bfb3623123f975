#!/usr/bin/env bash
# Run one SageMaker training job locally, like the AWS sample's train_local.sh, and pack
# model.tar.gz the way SageMaker does. Without --image it runs `entrypoint.sh train` from this
# checkout against a SageMaker-shaped tree (SAGEMAKER_BASE_DIR, no Docker); with --image IMAGE it
# runs `podman|docker run -v TREE:/opt/ml IMAGE train` instead.
#
#   scripts/train_local.sh --data data.csv --hp model_type=xgboost --hp num_round=50
#   scripts/train_local.sh --data data.csv --hyperparameters hp.json --image retailsage:dev
#
# Options: see `scripts/train_local.sh --help` (retailsage.train.local).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${RETAILSAGE_PYTHON:-$repo/.venv/bin/python}"
exec "$python" -m retailsage.train.local "$@"
