"""Typed configuration: validation at the boundary, derived names."""

import pytest
from infra.config import (
    AppConfig,
    EndpointConfig,
    ImageConfig,
    ScheduleConfig,
    TrainingConfig,
    TransformConfig,
)
from infra.example import example_config


def test_image_uri_parts():
    image = ImageConfig("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/retailsage:1.2.3")
    assert (image.account, image.region, image.repository) == (
        "123456789012",
        "eu-west-1",
        "team/retailsage",
    )


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: ImageConfig("docker.io/library/python:3.12"), "not an ECR image"),
        (
            lambda: TrainingConfig(use_spot=True, max_runtime_seconds=10, max_wait_seconds=5),
            "max_wait",
        ),
        (lambda: TrainingConfig(max_runtime_seconds=0), "max_runtime_seconds"),
        (
            lambda: TrainingConfig(max_runtime_seconds=28 * 86400 + 1, max_wait_seconds=29 * 86400),
            "28-day",
        ),
        (lambda: TransformConfig(max_payload_mb=60, max_concurrent_transforms=2), "<= 100"),
        (lambda: TransformConfig(max_payload_mb=101, max_concurrent_transforms=1), "1..100"),
        (lambda: TransformConfig(invocations_timeout_seconds=3601), "1..3600"),
        (lambda: TransformConfig(invocations_max_retries=4), "0..3"),
        (lambda: ScheduleConfig(expression="every night"), "cron"),
        (lambda: EndpointConfig(model_data_url="s3://b/model.zip"), "tar.gz"),
        (
            lambda: EndpointConfig(
                model_data_url="s3://bkt/m.tar.gz", startup_health_check_timeout_seconds=59
            ),
            "60..3600",
        ),
        (
            lambda: EndpointConfig(
                model_data_url="s3://bkt/m.tar.gz", min_capacity=3, max_capacity=2
            ),
            "capacity",
        ),
        (
            lambda: AppConfig(
                prefix="Bad_Prefix",
                account="123456789012",
                region="us-east-1",
                image=example_config().image,
            ),
            "prefix",
        ),
        (
            lambda: AppConfig(
                prefix="ok-prefix",
                account="12345",
                region="us-east-1",
                image=example_config().image,
            ),
            "account",
        ),
    ],
)
def test_invalid_configuration_is_rejected_early(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()


def test_names_are_derived_from_prefix_account_and_region():
    names = example_config().names
    assert names.data_bucket == "retailsage-dev-data-123456789012-us-east-1"
    assert names.predictions_table == "retailsage-dev-predictions"
    assert names.state_machine == "retailsage-dev-pipeline"
    assert names.job_prefix == "retailsage-dev"


@pytest.mark.parametrize(
    ("context", "flag"),
    [
        ({}, "-c retailsage:image_uri="),
        ({"retailsage:image_uri": "docker.io/retailsage:1"}, "-c retailsage:image_uri="),
        ({"retailsage:account": ""}, "-c retailsage:account="),
        ({"retailsage:account": "12345"}, "-c retailsage:account="),
        ({"retailsage:region": ""}, "-c retailsage:region="),
        ({"retailsage:prefix": "Bad_Prefix"}, "-c retailsage:prefix="),
        ({"retailsage:schedule": "every day"}, "-c retailsage:schedule="),
        ({"retailsage:execution_input": "{not json"}, "-c retailsage:execution_input="),
        ({"retailsage:endpoint_model_data_url": "s3://b/m.zip"}, "-c retailsage:endpoint_model"),
    ],
)
def test_context_errors_name_the_flag_to_pass(monkeypatch, context, flag):
    import aws_cdk as cdk
    from infra.app import ContextError, config_from_context

    monkeypatch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
    monkeypatch.delenv("CDK_DEFAULT_REGION", raising=False)
    values = {
        "retailsage:image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/retailsage:1",
        "retailsage:account": "123456789012",
        "retailsage:region": "us-east-1",
    }
    values = {k: v for k, v in {**values, **context}.items() if v}
    if not context:
        del values["retailsage:image_uri"]
    with pytest.raises(ContextError, match=flag):
        config_from_context(cdk.App(context=values))


def test_complete_context_builds_the_config(monkeypatch):
    import aws_cdk as cdk
    from infra.app import config_from_context

    config = config_from_context(
        cdk.App(
            context={
                "retailsage:image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/rs:1",
                "retailsage:account": "123456789012",
                "retailsage:region": "eu-west-1",
                "retailsage:schedule_enabled": "false",
            }
        )
    )
    assert (config.region, config.schedule.enabled, config.endpoint) == ("eu-west-1", False, None)
