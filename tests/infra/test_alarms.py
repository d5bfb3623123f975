"""CloudWatch alarms: what they watch, when they fire, and that they can reach the topic."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from infra.config import EndpointConfig, ScheduleConfig
from infra.synth import PIPELINE_STACK, synth_app


def alarms(template: dict[str, Any], of_type: Any) -> dict[str, dict[str, Any]]:
    """The template's alarms by name."""
    found = of_type(template, "AWS::CloudWatch::Alarm").values()
    return {alarm["Properties"]["AlarmName"]: alarm["Properties"] for alarm in found}


def topic_logical_id(template: dict[str, Any], of_type: Any) -> str:
    (logical_id,) = of_type(template, "AWS::SNS::Topic")
    return str(logical_id)


def test_pipeline_alarms_watch_every_way_an_execution_can_not_succeed(pipeline, of_type, config):
    found = alarms(pipeline, of_type)
    failed = found[f"{config.prefix}-pipeline-executions-not-succeeded"]
    assert failed["Threshold"] == 1
    assert failed["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert failed["TreatMissingData"] == "notBreaching"
    metric_names = {
        query["MetricStat"]["Metric"]["MetricName"]
        for query in failed["Metrics"]
        if "MetricStat" in query
    }
    assert metric_names == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    (expression,) = [q["Expression"] for q in failed["Metrics"] if "Expression" in q]
    assert expression == "failed + timedOut + aborted"
    topic = {"Ref": topic_logical_id(pipeline, of_type)}
    assert failed["AlarmActions"] == [topic] and failed["OKActions"] == [topic]


def test_an_overdue_run_alarms_after_the_configured_hours(pipeline, of_type, config):
    overdue = alarms(pipeline, of_type)[f"{config.prefix}-pipeline-no-successful-run"]
    hours = config.schedule.success_alarm_hours
    assert overdue["MetricName"] == "ExecutionsSucceeded"
    assert overdue["Period"] == 3600 and overdue["Statistic"] == "Sum"
    assert overdue["EvaluationPeriods"] == overdue["DatapointsToAlarm"] == hours
    assert overdue["ComparisonOperator"] == "LessThanThreshold" and overdue["Threshold"] == 1
    assert overdue["TreatMissingData"] == "breaching"  # no run at all is the case to catch


def test_cloudwatch_may_publish_to_the_encrypted_topic(pipeline, of_type, config):
    (policy,) = of_type(pipeline, "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    allow = next(s for s in statements if s.get("Sid") == "AllowCloudWatchAlarms")
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert allow["Condition"] == {"StringEquals": {"aws:SourceAccount": config.account}}
    assert any(s["Effect"] == "Deny" for s in statements)  # TLS-only stays
    keys = of_type(pipeline, "AWS::KMS::Key").values()
    key_statements = [s for k in keys for s in k["Properties"]["KeyPolicy"]["Statement"]]
    grant = next(s for s in key_statements if s.get("Sid") == "AllowCloudWatchAlarms")
    assert set(grant["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_endpoint_alarms_on_5xx_and_p99_latency(endpoint, of_type, config):
    found = alarms(endpoint, of_type)
    name = config.names.endpoint
    errors, latency = found[f"{name}-5xx"], found[f"{name}-model-latency-p99"]
    for alarm in (errors, latency):
        assert alarm["Namespace"] == "AWS/SageMaker"
        dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        assert dimensions == {"EndpointName": name, "VariantName": "AllTraffic"}
        (action,) = alarm["AlarmActions"]
        assert config.names.failure_topic in str(action)
    assert errors["MetricName"] == "Invocation5XXErrors" and errors["Threshold"] == 1
    assert latency["MetricName"] == "ModelLatency" and latency["ExtendedStatistic"] == "p99"
    assert config.endpoint is not None
    assert latency["Threshold"] == config.endpoint.latency_alarm_p99_ms * 1000  # microseconds
    assert latency["EvaluationPeriods"] == 3


def test_no_overdue_alarm_without_an_enabled_schedule(config, of_type):
    quiet = replace(config, schedule=replace(config.schedule, enabled=False), endpoint=None)
    names = alarms(synth_app(quiet, nag=False).templates[PIPELINE_STACK], of_type)
    assert f"{config.prefix}-pipeline-executions-not-succeeded" in names
    assert f"{config.prefix}-pipeline-no-successful-run" not in names


@pytest.mark.parametrize("hours", [0, 169])
def test_alarm_settings_are_validated(hours, config):
    with pytest.raises(ValueError, match="success_alarm_hours"):
        ScheduleConfig(success_alarm_hours=hours)
    with pytest.raises(ValueError, match="latency_alarm_p99_ms"):
        EndpointConfig(model_data_url="s3://bucket/m/model.tar.gz", latency_alarm_p99_ms=0)
