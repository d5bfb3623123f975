"""The moto patches: pinned internals, and a hand-written ASL of CDK's shape run through them."""

from __future__ import annotations

import inspect
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from retailsage.pipeline import moto_patches
from retailsage.pipeline.moto_patches import LambdaOutcome, patched_moto

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sfn"
FUNCTION_NAME = "extract-fn"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION_NAME}"

# The resource ARNs CDK's LambdaInvoke / SageMakerCreate* tasks emit (after token resolution).
DEFINITION: dict[str, Any] = {
    "StartAt": "Extract Data",
    "States": {
        "Extract Data": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {
                "FunctionName": FUNCTION,
                "Payload.$": "$",
            },
            "ResultSelector": {"Payload.$": "$.Payload"},
            "ResultPath": "$.extract",
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
            "Next": "Train Model",
        },
        "Train Model": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
            "Parameters": {
                "TrainingJobName.$": "$$.Execution.Name",
                "AlgorithmSpecification": {
                    "TrainingImage": "local/retailsage:latest",
                    "TrainingInputMode": "File",
                    "MetricDefinitions": [{"Name": "validation:mae", "Regex": "mae=(.*?);"}],
                },
                "HyperParameters.$": "$.hyperparameters",
                "InputDataConfig": [
                    {
                        "ChannelName": "train",
                        "DataSource": {
                            "S3DataSource": {
                                "S3DataType": "S3Prefix",
                                "S3Uri": "s3://bucket/train/",
                            }
                        },
                    }
                ],
                "OutputDataConfig": {"S3OutputPath": "s3://bucket/models"},
                "ResourceConfig": {
                    "InstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "VolumeSizeInGB": 10,
                },
                "RoleArn": ROLE,
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            },
            "ResultSelector": {
                "ModelArtifacts.$": "$.ModelArtifacts",
                "FinalMetricDataList.$": "$.FinalMetricDataList",
                "mae.$": "$.FinalMetricDataList[?(@.MetricName == 'validation:mae')].Value",
                "rmse.$": "$.FinalMetricDataList[?(@.MetricName == 'validation:rmse')].Value",
            },
            "ResultPath": "$.training",
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
            "Next": "Create Model",
        },
        "Create Model": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createModel",
            "Parameters": {
                "ModelName.$": "$$.Execution.Name",
                "ExecutionRoleArn": ROLE,
                "PrimaryContainer": {
                    "Image": "local/retailsage:latest",
                    "ModelDataUrl.$": "$.training.ModelArtifacts.S3ModelArtifacts",
                },
            },
            "ResultPath": "$.model",
            "Next": "Batch Transform",
        },
        "Batch Transform": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
            "Parameters": {
                "TransformJobName.$": "$$.Execution.Name",
                "ModelName.$": "$$.Execution.Name",
                "TransformInput": {
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/score/"}
                    },
                    "SplitType": "Line",
                },
                "TransformOutput": {"S3OutputPath": "s3://bucket/scored/"},
                "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.large"},
            },
            "ResultSelector": {"TransformJobStatus.$": "$.TransformJobStatus"},
            "ResultPath": "$.transform",
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
        "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
    },
}


class NoNewDataError(Exception):
    pass


class RecordingInvoker:
    """Test double for the Lambda runner: echoes the event, or raises the error it is given."""

    def __init__(self, raise_error: Exception | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.raise_error = raise_error

    def __call__(self, function: Any, payload: bytes) -> LambdaOutcome:
        event = json.loads(payload)
        self.calls.append((function.function_name, event))
        if self.raise_error is not None:
            body = {"errorType": type(self.raise_error).__name__, "errorMessage": "no rows"}
            return LambdaOutcome(json.dumps(body).encode(), type(self.raise_error).__name__)
        return LambdaOutcome(json.dumps({"rows": 3, "seen": event}).encode())


class ThreadedLauncher:
    """Test double for the SageMaker runner: finishes each job from a thread after a delay."""

    def __init__(self, fail_training: str | None = None) -> None:
        self.fail_training = fail_training
        self.statuses_at_start: list[str] = []
        self.transform_models: list[str] = []

    def start_training(self, job: Any) -> None:
        self.statuses_at_start.append(job.training_job_status)

        def finish() -> None:
            time.sleep(0.2)
            if self.fail_training:
                job.failure_reason = self.fail_training
                job.training_job_status = "Failed"
            else:
                job.final_metric_data_list = [{"MetricName": "validation:mae", "Value": 1.5}]
                job.training_job_status = "Completed"

        threading.Thread(target=finish, daemon=True).start()

    def start_transform(self, job: Any, backend: Any) -> None:
        self.transform_models.append(backend.describe_model(job.model_name).model_name)
        job.transform_job_status = "Completed"


@pytest.fixture
def aws() -> Iterator[None]:
    config: Any = {
        "stepfunctions": {"execute_state_machine": True},
        "lambda": {"use_docker": False},
    }
    with mock_aws(config=config):
        yield


def _execute(invoker: RecordingInvoker, launcher: ThreadedLauncher) -> dict[str, Any]:
    with patched_moto(invoker, launcher):
        return _start(invoker, {"hyperparameters": {"a": "1"}})


def _start(invoker: RecordingInvoker, execution_input: dict[str, Any]) -> dict[str, Any]:
    """Create the role, function and DEFINITION's state machine; run one execution to its end."""
    boto3.client("iam", region_name=REGION).create_role(
        RoleName="sfn", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
    )
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=FUNCTION_NAME,
        Runtime="python3.12",
        Role=ROLE,
        Handler="handler.lambda_handler",
        Code={"ZipFile": b"unused"},
    )
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.create_state_machine(
        name="pipeline", definition=json.dumps(DEFINITION), roleArn=ROLE
    )["stateMachineArn"]
    execution = sfn.start_execution(
        stateMachineArn=arn, name="run-1", input=json.dumps(execution_input)
    )["executionArn"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.1)
    raise AssertionError("execution did not finish within 30 s")


def test_moto_version_is_the_pinned_one() -> None:
    assert moto_patches.check_moto_version() == moto_patches.MOTO_VERSION == "5.2.5"


def test_patched_moto_refuses_other_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto_patches.metadata, "version", lambda _name: "5.3.0")
    with (
        pytest.raises(moto_patches.MotoVersionError, match=r"5\.3\.0"),
        patched_moto(RecordingInvoker(), ThreadedLauncher()),
    ):
        pass


def test_patched_internals_exist_with_expected_signatures() -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.sagemaker.models import FakeTrainingJob, FakeTransformJob, SageMakerModelBackend
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_unsupported as unsupported,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )

    invoke = inspect.signature(LambdaSimpleBackend.invoke).parameters
    assert list(invoke) == [
        "self", "function_name", "qualifier", "body", "headers", "response_headers"
    ]  # fmt: skip
    resolver = inspect.signature(unsupported.StateTaskServiceUnsupported._build_sync_resolver)
    assert list(resolver.parameters) == [
        "self", "env", "resource_runtime_part", "normalised_parameters", "state_credentials"
    ]  # fmt: skip
    assert {ResourceCondition.WaitForTaskToken} == unsupported._SUPPORTED_INTEGRATION_PATTERNS
    for name in ("create_training_job", "create_transform_job"):
        assert "self" in inspect.signature(getattr(SageMakerModelBackend, name)).parameters
    init_training = inspect.signature(FakeTrainingJob.__init__).parameters
    assert {"hyper_parameters", "input_data_config", "output_data_config"} <= set(init_training)
    assert "model_name" in inspect.signature(FakeTransformJob.__init__).parameters
    # processing jobs: the response handler still holds the request the backend drops
    from moto.sagemaker.responses import SageMakerResponse

    create = inspect.getsource(SageMakerResponse.create_processing_job)
    assert 'processing_job_name=self._get_param("ProcessingJobName")' in create
    assert "Environment" not in create and "ProcessingResources" not in create
    assert "processing_jobs" in inspect.getsource(SageMakerModelBackend.create_processing_job)
    from moto.stepfunctions.parser.asl.component.state.fail import state_fail
    from moto.stepfunctions.parser.asl.utils import json_path

    assert "CustomErrorName(" in inspect.getsource(state_fail.StateFail._eval_state)
    assert "_contains_slice_or_wildcard_array(" in inspect.getsource(json_path.extract_json)


def test_patches_are_restored_on_exit() -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_unsupported as unsupported,
    )

    before = (
        LambdaSimpleBackend.invoke,
        SageMakerModelBackend.create_training_job,
        SageMakerResponse.create_processing_job,
        set(unsupported._SUPPORTED_INTEGRATION_PATTERNS),
    )
    with patched_moto(RecordingInvoker(), ThreadedLauncher()):
        assert LambdaSimpleBackend.invoke is not before[0]
        assert SageMakerResponse.create_processing_job is not before[2]
    after = (
        LambdaSimpleBackend.invoke,
        SageMakerModelBackend.create_training_job,
        SageMakerResponse.create_processing_job,
        set(unsupported._SUPPORTED_INTEGRATION_PATTERNS),
    )
    assert after == before


@pytest.mark.usefixtures("aws")
def test_definition_runs_lambda_and_sync_jobs_through_runners() -> None:
    invoker, launcher = RecordingInvoker(), ThreadedLauncher()
    described = _execute(invoker, launcher)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["extract"]["Payload"]["rows"] == 3
    assert invoker.calls[0][0] == FUNCTION_NAME
    assert invoker.calls[0][1] == {"hyperparameters": {"a": "1"}}
    # the job ran asynchronously: InProgress when handed over, .sync waited for Completed
    assert launcher.statuses_at_start == ["InProgress"]
    assert output["training"]["FinalMetricDataList"] == [
        {"MetricName": "validation:mae", "Value": 1.5}
    ]
    # a filter selects a list; one that matches nothing selects [] (moto raised before)
    assert (output["training"]["mae"], output["training"]["rmse"]) == ([1.5], [])
    assert output["training"]["ModelArtifacts"]["S3ModelArtifacts"].endswith(
        "models/run-1/output/model.tar.gz"
    )
    assert output["transform"] == {"TransformJobStatus": "Completed"}
    assert launcher.transform_models == ["run-1"]


@pytest.mark.usefixtures("aws")
def test_lambda_error_type_becomes_the_states_error() -> None:
    described = _execute(RecordingInvoker(raise_error=NoNewDataError()), ThreadedLauncher())
    assert described["status"] == "FAILED"
    assert described["error"] == "NoNewDataError"
    history = boto3.client("stepfunctions", region_name=REGION).get_execution_history(
        executionArn=described["executionArn"]
    )["events"]
    fail_input = next(
        json.loads(e["stateEnteredEventDetails"]["input"])
        for e in history
        if e["type"] == "FailStateEntered"
    )
    assert fail_input["error"]["Error"] == "NoNewDataError"
    assert json.loads(fail_input["error"]["Cause"])["errorMessage"] == "no rows"


@pytest.mark.usefixtures("aws")
def test_failed_training_job_is_a_catchable_task_failure() -> None:
    described = _execute(RecordingInvoker(), ThreadedLauncher(fail_training="UserError: bad eta"))
    assert described["status"] == "FAILED"
    # the Fail state re-raises the caught States.TaskFailed through ErrorPath, as AWS does
    assert described["error"] == "States.TaskFailed"
    history = boto3.client("stepfunctions", region_name=REGION).get_execution_history(
        executionArn=described["executionArn"]
    )["events"]
    failed = [e for e in history if e["type"] == "TaskFailed"]
    assert failed[0]["taskFailedEventDetails"]["error"] == "States.TaskFailed"
    cause = json.loads(failed[0]["taskFailedEventDetails"]["cause"])
    assert cause["FailureReason"] == "UserError: bad eta"
    assert cause["TrainingJobStatus"] == "Failed"
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]
    assert entered == ["Extract Data", "Train Model", "Failed"]


MAP_DEFINITION: dict[str, Any] = {
    "StartAt": "Write Predictions",
    "States": {
        "Write Predictions": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Write Object",
                "States": {
                    "Write Object": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": FUNCTION, "Payload.$": "$"},
                        "End": True,
                    }
                },
            },
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
            "End": True,
        },
        "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
    },
}


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize("fails", [False, True])
def test_distributed_map_fails_when_an_item_fails(
    monkeypatch: pytest.MonkeyPatch, fails: bool
) -> None:
    monkeypatch.setitem(DEFINITION, "StartAt", MAP_DEFINITION["StartAt"])
    monkeypatch.setitem(DEFINITION, "States", MAP_DEFINITION["States"])
    invoker = RecordingInvoker(raise_error=NoNewDataError() if fails else None)
    with patched_moto(invoker, ThreadedLauncher()):
        described = _start(invoker, {"items": [{"key": "a.out"}, {"key": "b.out"}]})
    assert len(invoker.calls) == 2
    if fails:  # moto alone reports SUCCEEDED with null results here
        assert described["status"] == "FAILED"
        assert described["error"] == "States.ExceedToleratedFailureThreshold"
    else:
        assert described["status"] == "SUCCEEDED"
        assert [item["Payload"]["rows"] for item in json.loads(described["output"])] == [3, 3]


def test_stored_items_reads_the_moto_internals_it_expects() -> None:
    # stored_items / stored_item_count read moto's table storage (not a patch, same pin)
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import Table

    assert "get_table" in dir(type(dynamodb_backends["123456789012"]["us-east-1"]))
    assert "items" in inspect.getsource(Table.__init__)
    item_init = inspect.getsource(Item.__init__)
    assert "self.attrs" in item_init and "self.range_key" in item_init
    assert callable(DynamoType.to_json)


def _stored_after_writes(patched: bool) -> tuple[list[Any], list[str]]:
    """Write a small table through the real API (patched or not); return items and errors."""
    from botocore.exceptions import ClientError

    def writes() -> tuple[list[Any], list[str]]:
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        rows = [
            {
                "pk": {"S": f"c{i % 3}"},
                "sk": {"S": f"run#{i}"},
                "score": {"N": f"{i / 7:.12f}"},
                "flag": {"BOOL": i % 2 == 0},
                "none": {"NULL": True},
                "tags": {"SS": ["a", f"t{i}"]},
                "nested": {"M": {"k": {"L": [{"N": "1"}, {"S": "é"}]}}},
            }
            for i in range(60)
        ]
        for start in range(0, len(rows), 25):
            chunk = rows[start : start + 25]
            client.batch_write_item(
                RequestItems={"t": [{"PutRequest": {"Item": r}} for r in chunk]}
            )
        binary = [  # moto's parser decodes these from base64: the fast path must hand them over
            {
                "PutRequest": {
                    "Item": {"pk": {"S": "b"}, "sk": {"S": "blob"}, "raw": {"B": b"\x00x"}}
                }
            },
            {"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"S": "set"}, "raw": {"BS": [b"y"]}}}},
        ]
        client.batch_write_item(RequestItems={"t": binary})
        client.put_item(TableName="t", Item={**rows[0], "score": {"N": "-1.5"}})
        client.update_item(
            TableName="t",
            Key={"pk": rows[1]["pk"], "sk": rows[1]["sk"]},
            UpdateExpression="SET extra = :v",
            ExpressionAttributeValues={":v": {"S": "x"}},
        )
        errors = []
        # at and just over moto's 405,000-byte limit: names + values of pk/c, sk/big, payload
        # take 15 bytes besides the payload
        for size in (404_000, 405_000 - 15, 405_000 - 14, 406_000):
            big = {"pk": {"S": "c"}, "sk": {"S": "big"}, "payload": {"S": "x" * size}}
            try:
                client.put_item(TableName="t", Item=big)
                errors.append("ok")
            except ClientError as exc:
                errors.append(
                    f"{exc.response['Error']['Code']}: {exc.response['Error']['Message']}"
                )
        items = sorted(
            client.scan(TableName="t")["Items"], key=lambda item: (item["pk"]["S"], item["sk"]["S"])
        )
        return items, errors

    with mock_aws():
        if not patched:
            return writes()
        with patched_moto(RecordingInvoker(), ThreadedLauncher()):
            return writes()


def test_item_size_patch_stores_and_refuses_exactly_like_moto() -> None:
    unpatched = _stored_after_writes(patched=False)
    patched = _stored_after_writes(patched=True)
    assert patched == unpatched
    items, errors = patched
    assert len(items) == 63 and any("extra" in item for item in items)
    assert {"B": b"\x00x"} in [item.get("raw") for item in items]
    # the boundary really is exercised: under passes, over fails with moto's own error
    assert errors[0] == "ok" and errors[1] == "ok"
    assert errors[2].startswith("ValidationException") and "size" in errors[2]
    assert errors[3] == errors[2]


def test_item_size_patch_targets_the_init_it_replaces() -> None:
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

    source = inspect.getsource(Item.__init__)
    assert "LimitedSizeDict()" in source and "self.attrs[key] = DynamoType(value)" in source
    assert "405000" in inspect.getsource(LimitedSizeDict.__setitem__)
    assert moto_patches.ITEM_SIZE_LIMIT == 405000
    assert list(inspect.signature(Item.__init__).parameters) == [
        "self", "hash_key", "range_key", "attrs"
    ]  # fmt: skip
    before = Item.__init__
    with patched_moto(RecordingInvoker(), ThreadedLauncher()):
        assert Item.__init__ is not before
    assert Item.__init__ is before


def _motos_parse(body: bytes) -> Any:
    """What moto's own shape-driven parser makes of a BatchWriteItem body."""
    from moto.core.parse import JSONParser
    from moto.core.utils import get_service_model

    operation = get_service_model("dynamodb").operation_model("BatchWriteItem")
    return JSONParser(operation, map_type=dict).parse({"body": body})


_PLAIN = {
    "RequestItems": {
        "t": [
            {"PutRequest": {"Item": {"pk": {"S": "a"}, "n": {"N": "1.5"}, "b": {"BOOL": False}}}},
            {"PutRequest": {"Item": {"pk": {"S": "é"}, "z": {"NULL": True}, "s": {"SS": ["x"]}}}},
            {"PutRequest": {"Item": {"pk": {"S": "c"}, "m": {"M": {"l": {"L": [{"NS": ["1"]}]}}}}}},
            {"DeleteRequest": {"Key": {"pk": {"S": "d"}}}},
        ],
        "u": [{"PutRequest": {"Item": {"pk": {"S": "e"}}}}],
    },
    "ReturnConsumedCapacity": "TOTAL",
}


@pytest.mark.parametrize(
    "body",
    [
        _PLAIN,
        {"RequestItems": {"t": [{"PutRequest": {"Item": {"pk": {"B": "AAE="}}}}]}},
        {"RequestItems": {"t": [{"PutRequest": {"Item": {"m": {"M": {"x": {"BS": ["AA=="]}}}}}}]}},
        {"RequestItems": {"t": [{"PutRequest": {"Item": {"pk": {"S": None}}}}]}},
        {"RequestItems": {"t": [{"PutRequest": {"Item": {"pk": {"S": "a"}}}, "Other": {}}]}},
        {"RequestItems": {"t": [{"PutRequest": {"Item": {"pk": {"S": "a"}, "q": {}}}}]}},
        {"RequestItems": {"t": []}, "Unknown": "x"},
        {"RequestItems": {"t": [{"PutRequest": {"Item": {"pk": {"S": "a"}}}}]}, "X": None},
        {"RequestItems": None},
    ],
    ids=[
        "plain",
        "blob",
        "nested-blob-set",
        "null",
        "extra-request",
        "empty-value",
        "unknown",
        "null-member",
        "null-items",
    ],
)
def test_batch_write_fast_parse_equals_motos_parser_or_defers(body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    fast = moto_patches.plain_batch_write(raw)
    if body is _PLAIN:
        assert fast == _motos_parse(raw) == body
    else:  # anything moto's parser would change goes to moto's parser
        assert fast is None
    assert moto_patches.plain_batch_write(b"{not json") is None


def test_batch_write_fast_parse_targets_the_parser_it_bypasses() -> None:
    from moto.core.responses import BaseResponse
    from moto.dynamodb.responses import DynamoHandler

    assert "parse_parameters" not in DynamoHandler.__dict__
    assert "self.params = " in inspect.getsource(BaseResponse.parse_parameters)
    assert 'self.body = getattr(self, "params", {})' in inspect.getsource(DynamoHandler.call_action)
    with patched_moto(RecordingInvoker(), ThreadedLauncher()):
        assert "parse_parameters" in DynamoHandler.__dict__
    assert "parse_parameters" not in DynamoHandler.__dict__
