"""--inject-failure: mapping state names to the runner that fails them."""

from __future__ import annotations

from typing import Any

import pytest

from retailsage.core.errors import UserError
from retailsage.pipeline.faults import TRAINING, TRANSFORM, FaultPlan, injectable_states

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:{}"

DEFINITION: dict[str, Any] = {
    "StartAt": "Extract Data",
    "States": {
        "Extract Data": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": FUNCTION.format("rs-extract")},
        },
        "Train Model": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
        },
        "Create Model": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createModel"},
        "Batch Transform": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
        },
        "Write Predictions": {
            "Type": "Map",
            "ItemProcessor": {
                "StartAt": "Write Object",
                "States": {
                    "Write Object": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": FUNCTION.format("rs-write")},
                    }
                },
            },
        },
        "Done": {"Type": "Succeed"},
    },
}


def test_injectable_states_cover_every_locally_run_task() -> None:
    assert injectable_states(DEFINITION) == {
        "Extract Data": "rs-extract",
        "Train Model": TRAINING,
        "Batch Transform": TRANSFORM,
        "Write Object": "rs-write",
        "Write Predictions": "rs-write",
    }


@pytest.mark.parametrize(
    ("state", "functions", "jobs"),
    [
        ("Extract Data", {"rs-extract"}, set()),
        ("Write Predictions", {"rs-write"}, set()),
        ("Train Model", set(), {TRAINING}),
        ("Batch Transform", set(), {TRANSFORM}),
        (None, set(), set()),
    ],
)
def test_arm_selects_one_target_and_clears_the_rest(
    state: str | None, functions: set[str], jobs: set[str]
) -> None:
    plan = FaultPlan(functions={"stale"}, jobs={TRANSFORM})
    plan.arm(state, DEFINITION)
    assert (plan.functions, plan.jobs) == (functions, jobs)


@pytest.mark.parametrize("state", ["Create Model", "Done", "No Such State"])
def test_states_without_a_local_runner_are_rejected(state: str) -> None:
    with pytest.raises(UserError, match="choose one of: Extract Data"):
        FaultPlan().arm(state, DEFINITION)
