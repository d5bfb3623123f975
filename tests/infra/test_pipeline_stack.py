"""Pipeline stack resources: IAM, Lambdas, schedule, logging, topic."""

import json

import pytest
from infra.stacks.constructs.lambda_asset import stage_lambda_source
from infra.stacks.constructs.state_machine_access import MANAGED_RULES
from lambdas.common import settings as env

pytestmark = pytest.mark.xdist_group("cdk-synth")

# Actions with no resource-level permissions; the only ones allowed on Resource "*".
RESOURCELESS_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
}


def statements(template, of_type):
    for policy in of_type(template, "AWS::IAM::Policy").values():
        yield from policy["Properties"]["PolicyDocument"]["Statement"]


def as_list(value):
    return value if isinstance(value, list) else [value]


def state_machine_statements(pipeline, of_type):
    (role_id,) = [
        k for k in of_type(pipeline, "AWS::IAM::Role") if k.startswith("PipelineStateMachineRole")
    ]
    for policy in of_type(pipeline, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            yield from policy["Properties"]["PolicyDocument"]["Statement"]


def test_pass_role_is_scoped_to_the_sagemaker_role_and_service(pipeline, of_type):
    passes = [
        s
        for s in state_machine_statements(pipeline, of_type)
        if "iam:PassRole" in as_list(s["Action"])
    ]
    assert len(passes) == 1
    assert passes[0]["Resource"]["Fn::GetAtt"][0].startswith("SageMakerExecutionRole")
    assert passes[0]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }


def test_sync_jobs_have_their_managed_rule_permissions(pipeline, of_type):
    (events,) = [
        s
        for s in state_machine_statements(pipeline, of_type)
        if "events:PutRule" in as_list(s["Action"])
    ]
    assert sorted(events["Action"]) == [
        "events:DescribeRule",
        "events:PutRule",
        "events:PutTargets",
    ]
    rendered = json.dumps(events["Resource"])
    for rule in MANAGED_RULES:
        assert f"rule/{rule}" in rendered


def test_sync_jobs_may_be_created_described_and_stopped(pipeline, of_type):
    """.sync polls Describe*, an aborted execution calls Stop*, and ListTags is always needed."""
    actions = {
        action
        for statement in state_machine_statements(pipeline, of_type)
        for action in as_list(statement["Action"])
    }
    for job in ("TrainingJob", "TransformJob", "ProcessingJob"):
        for verb in ("Create", "Describe", "Stop"):
            assert f"sagemaker:{verb}{job}" in actions
    assert "sagemaker:ListTags" in actions


def test_the_state_machine_may_run_processing_jobs_and_their_role_may_read_raw(
    pipeline, of_type, config
):
    actions = {a for s in state_machine_statements(pipeline, of_type) for a in as_list(s["Action"])}
    assert {
        "sagemaker:CreateProcessingJob",
        "sagemaker:DescribeProcessingJob",
        "sagemaker:StopProcessingJob",
    } <= actions
    assert "StepFunctionsGetEventsForSageMakerProcessingJobsRule" in MANAGED_RULES
    _, role = _role_statements(pipeline, of_type, "SageMakerExecutionRole")
    reads = [s for s in role if as_list(s["Action"]) == ["s3:GetObject"]]
    assert f"/{config.raw_prefix}*" in json.dumps(reads)
    assert "/aws/sagemaker/ProcessingJobs" in json.dumps(role)


def test_sagemaker_permissions_are_scoped_to_the_job_prefix(pipeline, of_type, config):
    group = config.names.model_package_group
    for statement in state_machine_statements(pipeline, of_type):
        actions = as_list(statement["Action"])
        if actions == ["sagemaker:CreateModelPackage"]:
            rendered = [json.dumps(r) for r in as_list(statement["Resource"])]
            assert sorted(r.rsplit(":", 1)[-1] for r in rendered) == [
                f'model-package-group/{group}"]]}}',
                f'model-package/{group}/*"]]}}',
            ], statement
        elif any(a.startswith("sagemaker:") for a in actions):
            for resource in as_list(statement["Resource"]):
                assert json.dumps(resource).endswith(f'/{config.names.job_prefix}-*"]]}}'), (
                    statement
                )


def test_only_the_register_state_may_create_model_packages(pipeline, of_type):
    creators = [
        statement
        for statement in state_machine_statements(pipeline, of_type)
        if "sagemaker:CreateModelPackage" in as_list(statement["Action"])
    ]
    assert len(creators) == 1
    assert as_list(creators[0]["Action"]) == ["sagemaker:CreateModelPackage"]
    assert "Condition" not in creators[0] or creators[0]["Condition"]


def test_no_unjustified_wildcard_resources(synth, of_type):
    for template in synth.templates.values():
        for statement in statements(template, of_type):
            if "*" in as_list(statement["Resource"]):
                assert set(as_list(statement["Action"])) <= RESOURCELESS_ACTIONS, statement
            for action in as_list(statement["Action"]):
                assert not action.endswith(":*"), statement


def test_lambda_environment_comes_from_the_config(pipeline, of_type, config):
    functions = {
        f["Properties"]["FunctionName"]: f["Properties"]
        for f in of_type(pipeline, "AWS::Lambda::Function").values()
    }
    extract = functions[config.names.extract_function]
    assert extract["Handler"] == "lambdas.extract.handler.lambda_handler"
    assert extract["Environment"]["Variables"] | {} == {
        env.DATA_BUCKET: config.names.data_bucket,
        env.RAW_PREFIX: config.raw_prefix,
        env.RUNS_PREFIX: config.runs_prefix,
        env.CHECKPOINTS_PREFIX: config.checkpoints_prefix,
        env.JOB_PREFIX: config.names.job_prefix,
        env.SCORING_OBJECT_ROWS: str(config.scoring_object_rows),
        env.MIN_SCORING_OBJECTS: str(config.transform.instance_count),
        env.TRAINING_INSTANCES: str(config.training.instance_count),
        env.LAMBDA_MAX_INPUT_MB: str(config.featurize.lambda_max_input_mb),
        "POWERTOOLS_SERVICE_NAME": "retailsage-extract",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    assert extract["EphemeralStorage"] == {"Size": config.lambdas.ephemeral_storage_mb}
    assert len(extract["Layers"]) == 2
    writer = functions[config.names.write_function]
    assert writer["Environment"]["Variables"][env.TABLE_NAME] == config.names.predictions_table
    assert writer["Handler"] == "lambdas.write_predictions.handler.lambda_handler"


def test_lambda_roles_touch_only_their_prefixes_and_table(pipeline, of_type, config):
    rendered = json.dumps(
        [
            s
            for s in statements(pipeline, of_type)
            if any(a.startswith(("s3:", "dynamodb:")) for a in as_list(s["Action"]))
        ]
    )
    assert "dynamodb:BatchWriteItem" in rendered
    assert "dynamodb:DeleteItem" not in rendered and "dynamodb:Scan" not in rendered
    assert f"{config.names.data_bucket}/{config.raw_prefix}*" in rendered


def test_schedule_starts_the_state_machine_with_the_configured_input(pipeline, of_type, config):
    (schedule,) = of_type(pipeline, "AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == config.schedule.expression
    assert props["ScheduleExpressionTimezone"] == config.schedule.timezone
    assert props["State"] == "ENABLED"
    assert props["Target"]["Arn"]["Ref"].startswith("PipelineStateMachine")
    assert json.loads(props["Target"]["Input"]) == dict(config.schedule.execution_input)


def test_state_machine_logs_everything_and_traces(pipeline, of_type, config):
    (machine,) = of_type(pipeline, "AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    assert props["StateMachineName"] == config.names.state_machine
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is True
    assert props["TracingConfiguration"] == {"Enabled": True}


def test_failure_topic_is_encrypted_and_subscribed(pipeline, of_type, config):
    (topic,) = of_type(pipeline, "AWS::SNS::Topic").values()
    assert topic["Properties"]["TopicName"] == config.names.failure_topic
    assert "KmsMasterKeyId" in topic["Properties"]
    subscriptions = of_type(pipeline, "AWS::SNS::Subscription").values()
    assert [s["Properties"]["Endpoint"] for s in subscriptions] == list(config.notification_emails)


def test_lambda_asset_ships_handlers_and_light_shared_code_only(tmp_path):
    staged = stage_lambda_source(tmp_path / "asset")
    assert (staged / "lambdas" / "extract" / "handler.py").is_file()
    assert (staged / "retailsage" / "features" / "gap.py").is_file()
    assert (staged / "retailsage" / "data" / "loader.py").is_file()
    assert not (staged / "retailsage" / "train").exists()
    assert not (staged / "retailsage" / "serve").exists()
    assert not list(staged.rglob("__pycache__"))
    assert not [p for p in staged.rglob("*") if p.suffix in (".so", ".c")]  # pure Python only


def _role_statements(template, of_type, role_prefix):
    (role_id,) = [k for k in of_type(template, "AWS::IAM::Role") if k.startswith(role_prefix)]
    found = []
    for policy in of_type(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return role_id, found


def test_adhoc_training_role_reads_raw_and_writes_only_adhoc(pipeline, of_type, config):
    role_id, statements_ = _role_statements(pipeline, of_type, "AdhocTrainingRole")
    role = pipeline["Resources"][role_id]["Properties"]
    assert role["RoleName"] == f"{config.prefix}-adhoc-training"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "sagemaker.amazonaws.com"
    }
    assert "ManagedPolicyArns" not in role

    def keys(action):
        found = set()
        for statement in statements_:
            if action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    text = json.dumps(resource)
                    found.add(text.split(config.names.data_bucket, 1)[1].split('"')[0])
        return found

    assert keys("s3:GetObject") == {"/raw/*", "/adhoc/*"}
    assert keys("s3:PutObject") == {"/adhoc/*"}
    assert keys("s3:DeleteObject") == {"/adhoc/*"}
    actions = {a for s in statements_ for a in as_list(s["Action"])}
    assert not any(a.startswith(("iam:", "sagemaker:", "dynamodb:", "states:")) for a in actions)
    logs = [s for s in statements_ if "logs:PutLogEvents" in as_list(s["Action"])]
    assert "TrainingJobs" in json.dumps(logs) and "TransformJobs" not in json.dumps(logs)
    output = pipeline["Outputs"]["AdhocTrainingRoleArn"]["Value"]
    assert output == {"Fn::GetAtt": [role_id, "Arn"]}


def test_the_state_machine_cannot_pass_the_adhoc_role(pipeline, of_type):
    rendered = json.dumps(list(state_machine_statements(pipeline, of_type)))
    assert "AdhocTrainingRole" not in rendered
