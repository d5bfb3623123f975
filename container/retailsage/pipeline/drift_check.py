"""The local run's drift check: PSI of the Batch Transform output against the model's reference.

After a run that scored data, :func:`check_run_drift` reads the model artifact the execution
trained (``$.training.model_artifacts``), takes ``drift_reference.json`` from it (the file its
manifest names), reads the transform output (``$.transform.output_uri``: one JSON object per
scored row, the input record joined with ``SageMakerOutput``), computes the PSI of every input
column (:mod:`retailsage.evaluation.drift`) and writes ``runs/<run id>/drift.json``. The lines
it returns go into the run summary, with a ``DRIFT ALARM`` line when a column reaches the
threshold.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from retailsage.evaluation.drift import (
    MANIFEST_KEY,
    population_stability,
    summary_lines,
)
from retailsage.pipeline.s3io import download_model, list_keys, parse_s3_uri

logger = logging.getLogger(__name__)

DRIFT_FILE = "drift.json"


def read_transform_output(s3: Any, uri: str) -> pd.DataFrame:
    """Read every ``.out`` object under the transform output prefix as one frame.

    Args:
        s3: a boto3 S3 client.
        uri: ``TransformOutput.S3OutputPath``.

    Returns:
        One row per scored record (input fields plus ``SageMakerOutput``).
    """
    bucket, _ = parse_s3_uri(uri)
    frames = []
    for key in list_keys(s3, uri):
        if not key.endswith(".out"):
            continue
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if body.strip():
            frames.append(pd.read_json(io.BytesIO(body), lines=True, dtype=False))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def read_reference(s3: Any, model_uri: str) -> dict[str, Any] | None:
    """The drift reference inside a ``model.tar.gz`` (None when the model has none).

    Args:
        s3: a boto3 S3 client.
        model_uri: the training job's ``S3ModelArtifacts``.

    Returns:
        The parsed reference, or None.
    """
    with tempfile.TemporaryDirectory(prefix="retailsage-drift-") as tmp:
        model_dir = download_model(s3, model_uri, Path(tmp))
        manifest = json.loads((model_dir / "manifest.json").read_text())
        name = manifest.get(MANIFEST_KEY)
        if not name:
            return None
        reference: dict[str, Any] = json.loads((model_dir / str(name)).read_text())
        return reference


def check_run_drift(
    s3: Any, output: dict[str, Any] | None, report_dir: Path, threshold: float | None = None
) -> list[str]:
    """Compute and write the run's drift report; return the summary lines.

    Args:
        s3: a boto3 S3 client (the run's moto S3).
        output: the execution output (None when the execution failed).
        report_dir: ``runs/<run id>/``.
        threshold: the PSI alarm threshold (``RETAILSAGE_DRIFT_PSI_THRESHOLD`` or 0.2 when None).

    Returns:
        Lines for the summary; empty when the run scored nothing.
    """
    training = (output or {}).get("training") or {}
    transform = (output or {}).get("transform") or {}
    model_uri, output_uri = training.get("model_artifacts"), transform.get("output_uri")
    if not model_uri or not output_uri:
        return []
    reference = read_reference(s3, model_uri)
    if reference is None:
        return ["  input drift: the model has no drift reference (trained before drift checks)"]
    batch = read_transform_output(s3, output_uri)
    report = population_stability(reference, batch, threshold)
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / DRIFT_FILE
    path.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    logger.info("drift report %s", path)
    return [*summary_lines(report), f"  drift report: {path}"]
