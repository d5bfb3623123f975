"""The deployed state machine definition: order, integrations, error handling, data flow."""

import pytest
from infra.config import TrainingConfig
from infra.stacks.constructs.sagemaker_states import GATE_METRIC, SageMakerTargets, train_state
from lambdas.common.events import ExtractResult

from retailsage.pipeline import states
from retailsage.train.metrics import METRIC_DEFINITIONS

pytestmark = pytest.mark.xdist_group("cdk-synth")


def all_states(definition):
    """Every state, including those inside Map item processors."""
    for name, state in definition["States"].items():
        yield name, state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from all_states(processor)


def test_happy_path_visits_states_in_order(asl):
    path, name = [], asl["StartAt"]
    while name:
        path.append(name)
        state = asl["States"][name]
        if name == states.WHERE_TO_FEATURIZE:  # the happy path featurizes in the Lambda
            name = state["Default"]
            continue
        name = state["Choices"][0]["Next"] if state["Type"] == "Choice" else state.get("Next")
    assert tuple(path) == states.HAPPY_PATH
    assert set(asl["States"]) == {
        *states.HAPPY_PATH,
        states.FEATURIZE_DATA,
        states.NOTHING_TO_DO,
        states.MODEL_REJECTED,
        states.NOTIFY_FAILURE,
        states.PIPELINE_FAILED,
    }


def test_every_transition_target_exists(asl):
    for _, state in all_states(asl):
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Choices", [])]
        targets += [c["Next"] for c in state.get("Catch", [])]
        for target in filter(None, targets):
            assert target in asl["States"] or any(target == n for n, _ in all_states(asl))


def test_training_and_transform_run_as_sync_jobs(asl):
    train, transform = asl["States"][states.TRAIN_MODEL], asl["States"][states.BATCH_TRANSFORM]
    assert train["Resource"] == "arn:${AWS::Partition}:states:::sagemaker:createTrainingJob.sync"
    assert transform["Resource"] == (
        "arn:${AWS::Partition}:states:::sagemaker:createTransformJob.sync"
    )
    assert asl["States"][states.CREATE_MODEL]["Resource"].endswith(":sagemaker:createModel")


def test_every_task_retries_transient_errors_and_catches_to_notify(asl):
    for name in states.TASK_STATES:
        state = asl["States"][name]
        assert state["Retry"], name
        assert all("States.ALL" not in r["ErrorEquals"] for r in state["Retry"]), name
        catch_all = state["Catch"][-1]
        assert catch_all == {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.error",
            "Next": states.NOTIFY_FAILURE,
        }, name
    for name, state in all_states(asl):
        if state["Type"] == "Task":
            assert state.get("Retry"), name


def test_failure_path_notifies_then_fails_with_the_cause(asl):
    notify = asl["States"][states.NOTIFY_FAILURE]
    assert notify["Resource"].endswith(":states:::sns:publish")
    assert notify["Next"] == states.PIPELINE_FAILED
    assert notify["ResultPath"] is None
    assert notify["Catch"][0]["Next"] == states.PIPELINE_FAILED
    failed = asl["States"][states.PIPELINE_FAILED]
    assert failed == {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}


def test_no_new_data_ends_in_nothing_to_do(asl):
    extract = asl["States"][states.EXTRACT_DATA]
    assert extract["Catch"][0] == {
        "ErrorEquals": ["NoNewData"],
        "ResultPath": "$.no_new_data",
        "Next": states.NOTHING_TO_DO,
    }
    assert asl["States"][states.NOTHING_TO_DO]["Type"] == "Succeed"


def test_extract_passes_execution_name_and_input_and_keeps_only_its_result(asl):
    extract = asl["States"][states.EXTRACT_DATA]
    assert extract["Resource"] == "arn:${AWS::Partition}:states:::lambda:invoke"
    assert extract["Parameters"]["FunctionName"] == "${ExtractFunction.Arn}"
    assert extract["Parameters"]["Payload"] == {
        "execution_name.$": "$$.Execution.Name",
        "input.$": "$",
    }
    assert extract["ResultSelector"] == {
        f"{field}.$": f"$.Payload.{field}" for field in ExtractResult.model_fields
    }
    assert extract["ResultPath"] == "$.extract"


def test_training_job_parameters(asl, config):
    train = asl["States"][states.TRAIN_MODEL]
    params = train["Parameters"]
    assert params["TrainingJobName.$"] == "$.extract.run_name"
    assert params["HyperParameters.$"] == "$.extract.hyperparameters"
    definitions = params["AlgorithmSpecification"]["MetricDefinitions"]
    assert definitions[:-1] == METRIC_DEFINITIONS
    assert definitions[-1] == {
        "Name": GATE_METRIC,
        "Regex": r"(?:validation:improvement_over_best_baseline)=(\S+?);",
    }
    assert len(definitions) <= 40
    assert params["AlgorithmSpecification"]["TrainingImage"] == config.image.uri
    assert params["EnableManagedSpotTraining"] is True
    assert params["StoppingCondition"] == {
        "MaxRuntimeInSeconds": config.training.max_runtime_seconds,
        "MaxWaitTimeInSeconds": config.training.max_wait_seconds,
    }
    assert params["CheckpointConfig"]["S3Uri.$"] == "$.extract.checkpoint_uri"
    channel = params["InputDataConfig"][0]["DataSource"]["S3DataSource"]
    assert channel["S3Uri.$"] == "$.extract.train_uri"
    assert params["ResourceConfig"]["InstanceType"] == config.training.instance_type
    assert config.training.network_isolation is True
    assert params["EnableNetworkIsolation"] is True


def test_network_isolation_can_be_turned_off_in_the_typed_config(config):
    targets = SageMakerTargets(
        image_uri=config.image.uri,
        role_arn="arn:aws:iam::123456789012:role/r",
        models_uri="s3://b/m",
    )
    on = train_state(targets=targets, training=TrainingConfig(), metric_definitions=[])
    off = train_state(
        targets=targets, training=TrainingConfig(network_isolation=False), metric_definitions=[]
    )
    assert on["Parameters"]["EnableNetworkIsolation"] is True
    assert off["Parameters"]["EnableNetworkIsolation"] is False


def test_sagemaker_results_keep_plain_values_only(asl):
    train = asl["States"][states.TRAIN_MODEL]["ResultSelector"]
    assert train["model_artifacts.$"] == "$.ModelArtifacts.S3ModelArtifacts"
    assert train["gate_value.$"] == (
        f"$.FinalMetricDataList[?(@.MetricName == '{GATE_METRIC}')].Value"
    )
    assert train["metric_names.$"] == "$.FinalMetricDataList[*].MetricName"
    assert train["metric_values.$"] == "$.FinalMetricDataList[*].Value"
    assert set(train) == {
        "job_name.$",
        "model_artifacts.$",
        "gate_value.$",
        "metric_names.$",
        "metric_values.$",
    }
    transform = asl["States"][states.BATCH_TRANSFORM]["ResultSelector"]
    assert transform == {
        "job_name.$": "$.TransformJobName",
        "output_uri.$": "$.TransformOutput.S3OutputPath",
    }


def test_batch_transform_splits_json_lines_and_joins_input(asl, config):
    params = asl["States"][states.BATCH_TRANSFORM]["Parameters"]
    assert params["BatchStrategy"] == "MultiRecord"
    assert params["TransformInput"]["SplitType"] == "Line"
    assert params["TransformInput"]["ContentType"] == "application/jsonlines"
    assert params["TransformOutput"]["AssembleWith"] == "Line"
    assert params["TransformOutput"]["Accept"] == "application/jsonlines"
    assert params["DataProcessing"]["JoinSource"] == "Input"
    assert params["TransformResources"]["InstanceCount"] == config.transform.instance_count
    assert params["ModelName.$"] == params["TransformJobName.$"] == "$.extract.run_name"


def test_batch_transform_limits_and_server_settings_agree(asl, config):
    """Payload/concurrency/client limits are explicit (CDK would fill 0 retries / 60 s) and the
    model's server runs one worker per concurrent transform, with a timeout no shorter than the
    invocation timeout, so SageMaker never gives up on a request the server still works on."""
    transform = config.transform
    params = asl["States"][states.BATCH_TRANSFORM]["Parameters"]
    assert params["MaxPayloadInMB"] == transform.max_payload_mb
    assert params["MaxConcurrentTransforms"] == transform.max_concurrent_transforms
    assert params["MaxPayloadInMB"] * params["MaxConcurrentTransforms"] <= 100
    assert params["ModelClientConfig"] == {
        "InvocationsTimeoutInSeconds": transform.invocations_timeout_seconds,
        "InvocationsMaxRetries": transform.invocations_max_retries,
    }
    environment = asl["States"][states.CREATE_MODEL]["Parameters"]["PrimaryContainer"][
        "Environment"
    ]
    assert environment["SAGEMAKER_MODEL_SERVER_WORKERS"] == str(params["MaxConcurrentTransforms"])
    timeout = int(environment["SAGEMAKER_MODEL_SERVER_TIMEOUT"])
    assert timeout >= params["ModelClientConfig"]["InvocationsTimeoutInSeconds"]


@pytest.mark.parametrize("model_type", ["xgboost", "lstm", "pca_kmeans"])
def test_quality_gate_compares_the_gate_value_with_the_input_threshold(asl, model_type):
    # the gate value is the improvement over the best same-run baseline; the input's
    # quality_threshold is the margin it must reach
    operator = "NumericGreaterThanEqualsPath"
    gate = asl["States"][states.QUALITY_GATE]
    assert gate["Default"] == states.MODEL_REJECTED
    rule = next(c for c in gate["Choices"] if c["And"][0]["StringEquals"] == model_type)
    variable = "$.training.gate_value[0]"
    assert rule["Next"] == states.REGISTER_MODEL
    assert rule["And"][1] == {"Variable": variable, "IsPresent": True}
    assert rule["And"][2] == {"Variable": variable, operator: "$.extract.quality_threshold"}


def test_write_predictions_is_a_distributed_map_over_the_transform_output(asl, config):
    write = asl["States"][states.WRITE_PREDICTIONS]
    assert write["Type"] == "Map"
    assert write["ItemReader"]["Resource"] == "arn:${AWS::Partition}:states:::s3:listObjectsV2"
    assert write["ItemReader"]["Parameters"] == {
        "Bucket": config.names.data_bucket,
        "Prefix.$": "$.extract.predictions_prefix",
    }
    assert write["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    inner = write["ItemProcessor"]["States"][states.WRITE_PREDICTION_OBJECT]
    assert inner["Parameters"]["FunctionName"] == "${WritePredictionsFunction.Arn}"
    assert ["ThrottledWrites", "TransientWriteError"] in [r["ErrorEquals"] for r in inner["Retry"]]
    assert write["Next"] == states.PUBLISH_RUN
    assert write["ItemSelector"]["key.$"] == "$$.Map.Item.Value.Key"
    assert write["MaxConcurrency"] == config.lambdas.write_concurrency


def test_several_training_instances_shard_the_train_channel(asl, config):
    from infra.config import TrainingConfig
    from infra.stacks.constructs.sagemaker_states import SageMakerTargets, train_state

    channel = asl["States"][states.TRAIN_MODEL]["Parameters"]["InputDataConfig"][0]
    assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == (
        config.training.distribution
    )
    targets = SageMakerTargets(image_uri="img", role_arn="role", models_uri="s3://b/models/")
    for count, expected in ((1, "FullyReplicated"), (3, "ShardedByS3Key")):
        state = train_state(
            targets=targets,
            training=TrainingConfig(instance_count=count),
            metric_definitions=[],
        )
        params = state["Parameters"]
        assert params["ResourceConfig"]["InstanceCount"] == count
        source = params["InputDataConfig"][0]["DataSource"]["S3DataSource"]
        assert source["S3DataDistributionType"] == expected


def test_accepted_model_is_registered_approved_in_the_group_before_it_scores(asl, config):
    register = asl["States"][states.REGISTER_MODEL]
    assert register["Resource"] == "arn:${AWS::Partition}:states:::sagemaker:createModelPackage"
    params = register["Parameters"]
    assert params["ModelPackageGroupName"] == config.names.model_package_group
    assert params["ModelApprovalStatus"] == config.registry.approval_status == "Approved"
    container = params["InferenceSpecification"]["Containers"][0]
    assert container == {
        "Image": config.image.uri,
        "ModelDataUrl.$": "$.training.model_artifacts",
    }
    assert register["ResultSelector"] == {"model_package_arn.$": "$.ModelPackageArn"}
    assert register["Next"] == states.CREATE_MODEL
    assert register["Catch"][0]["Next"] == states.NOTIFY_FAILURE


def test_rejected_model_is_never_registered_and_writes_nothing(asl):
    # the rejected branch ends at once: no package version, no transform, no items, no
    # marker; the latest approved version and the last published run keep serving
    rejected = asl["States"][states.MODEL_REJECTED]
    assert rejected["Type"] == "Succeed"
    gate = asl["States"][states.QUALITY_GATE]
    assert {choice["Next"] for choice in gate["Choices"]} == {states.REGISTER_MODEL}
    sources = [
        name
        for name, state in asl["States"].items()
        if state.get("Next") == states.REGISTER_MODEL
        or states.REGISTER_MODEL in {c.get("Next") for c in state.get("Choices", [])}
    ]
    assert sources == [states.QUALITY_GATE]


def test_publish_run_marks_the_run_complete_after_every_object_is_written(asl, config):
    publish = asl["States"][states.PUBLISH_RUN]
    assert publish["Resource"] == "arn:${AWS::Partition}:states:::dynamodb:putItem"
    item = publish["Parameters"]["Item"]
    assert item["customer_id"] == {"S": "_run"}
    assert item["prediction_key"] == {"S.$": "$.extract.run_name"}
    assert item["run_status"] == {"S": "complete"}
    assert publish["Parameters"]["TableName"] == config.names.predictions_table
    assert publish["ResultPath"] is None
    assert publish["Next"] == states.PIPELINE_SUCCEEDED
    assert publish["Catch"][0]["Next"] == states.NOTIFY_FAILURE
    assert any(
        "DynamoDB.ProvisionedThroughputExceededException" in r["ErrorEquals"]
        for r in publish["Retry"]
    )


def test_large_inputs_are_featurized_by_a_processing_job_in_the_same_image(asl):
    where = asl["States"][states.WHERE_TO_FEATURIZE]
    assert where["Type"] == "Choice"
    assert where["Choices"] == [
        {
            "Variable": "$.extract.featurize",
            "StringEquals": "processing",
            "Next": states.FEATURIZE_DATA,
        }
    ]
    assert where["Default"] == states.TRAIN_MODEL
    featurize = asl["States"][states.FEATURIZE_DATA]
    assert featurize["Resource"] == (
        "arn:${AWS::Partition}:states:::sagemaker:createProcessingJob.sync"
    )
    assert featurize["Next"] == states.TRAIN_MODEL
    params = featurize["Parameters"]
    train_image = asl["States"][states.TRAIN_MODEL]["Parameters"]["AlgorithmSpecification"]
    assert params["AppSpecification"]["ImageUri"] == train_image["TrainingImage"]
    assert params["AppSpecification"]["ContainerArguments.$"] == "$.extract.featurize_arguments"
    assert params["ProcessingJobName.$"] == "$.extract.run_name"
    (source,) = params["ProcessingInputs"]
    assert source["S3Input"]["S3Uri.$"] == "$.extract.source_uri"
    assert source["S3Input"]["LocalPath"].startswith("/opt/ml/processing/input/")
    outputs = {o["OutputName"]: o["S3Output"] for o in params["ProcessingOutputConfig"]["Outputs"]}
    assert outputs["train"]["S3Uri.$"] == "$.extract.train_uri"  # what Train Model reads
    assert outputs["scoring"]["S3Uri.$"] == "$.extract.scoring_uri"  # what Transform reads
    assert {o["S3UploadMode"] for o in outputs.values()} == {"EndOfJob"}
    assert params["ProcessingResources"]["ClusterConfig"]["InstanceCount"] >= 1
    # same retrier as the training state; failures go to the one failure path
    assert featurize["Retry"] == asl["States"][states.TRAIN_MODEL]["Retry"]
    assert featurize["Catch"][-1]["Next"] == states.NOTIFY_FAILURE
    assert featurize["ResultPath"] == "$.featurize"


def test_extract_result_carries_what_the_processing_state_reads():
    for name in ("featurize", "source_uri", "featurize_arguments", "train_uri", "scoring_uri"):
        assert name in ExtractResult.model_fields
