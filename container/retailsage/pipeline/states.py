"""Names of the Step Functions states: the one place the stacks, tests and local run read."""

from __future__ import annotations

EXTRACT_DATA = "Extract Data"
WHERE_TO_FEATURIZE = "Where To Featurize"
FEATURIZE_DATA = "Featurize Data"
NOTHING_TO_DO = "Nothing To Do"
TRAIN_MODEL = "Train Model"
QUALITY_GATE = "Quality Gate"
MODEL_REJECTED = "Model Rejected"
REGISTER_MODEL = "Register Model"
CREATE_MODEL = "Create Model"
BATCH_TRANSFORM = "Batch Transform"
WRITE_PREDICTIONS = "Write Predictions"
PUBLISH_RUN = "Publish Run"
PIPELINE_SUCCEEDED = "Pipeline Succeeded"
NOTIFY_FAILURE = "Notify Failure"
PIPELINE_FAILED = "Pipeline Failed"

TASK_STATES: tuple[str, ...] = (
    EXTRACT_DATA,
    FEATURIZE_DATA,
    TRAIN_MODEL,
    REGISTER_MODEL,
    CREATE_MODEL,
    BATCH_TRANSFORM,
    WRITE_PREDICTIONS,
    PUBLISH_RUN,
)
"""Every Task state; each has a Retry and a Catch to NOTIFY_FAILURE."""

HAPPY_PATH: tuple[str, ...] = (
    EXTRACT_DATA,
    WHERE_TO_FEATURIZE,
    TRAIN_MODEL,
    QUALITY_GATE,
    REGISTER_MODEL,
    CREATE_MODEL,
    BATCH_TRANSFORM,
    WRITE_PREDICTIONS,
    PUBLISH_RUN,
    PIPELINE_SUCCEEDED,
)
"""The states a successful execution that featurizes in the Lambda enters, in order (one that
featurizes in a Processing job enters FEATURIZE_DATA after WHERE_TO_FEATURIZE)."""

WRITE_PREDICTION_OBJECT = "Write Prediction Object"
"""The Lambda task inside the WRITE_PREDICTIONS Distributed Map (one ``*.out`` object each)."""
