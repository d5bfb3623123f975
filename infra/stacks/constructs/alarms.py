"""CloudWatch alarms on the pipeline and the endpoint, sent to the failure topic.

The state machine's own failure path publishes a message for every failure it catches; the
alarms cover what it cannot see: an execution that failed outside it (a timeout, an abort, a
runtime error), a nightly run that never started or never succeeded, and the real-time
endpoint's 5xx responses (the server's 500s are our own bugs) and tail latency.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

FIVE_MINUTES = cdk.Duration.minutes(5)


def allow_alarm_publishing(topic: sns.Topic, key: kms.IKey, account: str) -> None:
    """Let CloudWatch alarms of ``account`` publish to the encrypted ``topic``.

    The topic's own policy (TLS-only) replaces SNS's default one, and its customer-managed key
    admits only the account, so the CloudWatch service needs both grants.

    Args:
        topic: the failure topic.
        key: its KMS key.
        account: the account whose alarms may publish.
    """
    service = iam.ServicePrincipal("cloudwatch.amazonaws.com")
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarms",
            principals=[service],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={"StringEquals": {"aws:SourceAccount": account}},
        )
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarms",
            principals=[service],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy, "*" is this key
            conditions={"StringEquals": {"aws:SourceAccount": account}},
        )
    )


def pipeline_alarms(
    scope: Construct,
    *,
    prefix: str,
    state_machine: sfn.StateMachine,
    topic: sns.ITopic,
    success_alarm_hours: int | None,
) -> list[cloudwatch.Alarm]:
    """Alarms on executions that did not succeed, and on a run that is overdue.

    Args:
        scope: the pipeline stack.
        prefix: the deployment prefix (alarm names start with it).
        state_machine: the pipeline.
        topic: where alarm and OK notifications go.
        success_alarm_hours: alarm when no execution succeeded for this many hours (missing
            data counts as none); ``None`` creates no such alarm.

    Returns:
        The alarms.
    """
    not_succeeded = cloudwatch.MathExpression(
        expression="failed + timedOut + aborted",
        using_metrics={
            "failed": state_machine.metric_failed(period=FIVE_MINUTES, statistic="Sum"),
            "timedOut": state_machine.metric_timed_out(period=FIVE_MINUTES, statistic="Sum"),
            "aborted": state_machine.metric_aborted(period=FIVE_MINUTES, statistic="Sum"),
        },
        label="executions failed, timed out or aborted",
        period=FIVE_MINUTES,
    )
    alarms = [
        cloudwatch.Alarm(
            scope,
            "ExecutionsNotSucceededAlarm",
            alarm_name=f"{prefix}-pipeline-executions-not-succeeded",
            alarm_description="A pipeline execution failed, timed out or was aborted.",
            metric=not_succeeded,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
    ]
    if success_alarm_hours is not None:
        alarms.append(
            cloudwatch.Alarm(
                scope,
                "NoSuccessfulRunAlarm",
                alarm_name=f"{prefix}-pipeline-no-successful-run",
                alarm_description=(
                    f"No pipeline execution succeeded in the last {success_alarm_hours} hours "
                    "(the schedule did not fire, or every run failed)."
                ),
                metric=state_machine.metric_succeeded(
                    period=cdk.Duration.hours(1), statistic="Sum"
                ),
                threshold=1,
                evaluation_periods=success_alarm_hours,
                datapoints_to_alarm=success_alarm_hours,
                comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
            )
        )
    _notify(alarms, topic)
    return alarms


def endpoint_alarms(
    scope: Construct,
    *,
    endpoint_name: str,
    variant_name: str,
    topic: sns.ITopic,
    latency_p99_ms: int,
) -> list[cloudwatch.Alarm]:
    """Alarms on the endpoint's 5xx responses and its p99 model latency.

    Args:
        scope: the endpoint stack.
        endpoint_name: the endpoint.
        variant_name: its production variant.
        topic: where alarm and OK notifications go.
        latency_p99_ms: the p99 ``ModelLatency`` that alarms after three 5-minute periods.

    Returns:
        The alarms.
    """
    dimensions = {"EndpointName": endpoint_name, "VariantName": variant_name}

    def metric(name: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name=name,
            dimensions_map=dimensions,
            statistic=statistic,
            period=FIVE_MINUTES,
        )

    alarms = [
        cloudwatch.Alarm(
            scope,
            "Invocation5xxAlarm",
            alarm_name=f"{endpoint_name}-5xx",
            alarm_description="The endpoint answered 5xx (the server's 500s are its own bugs).",
            metric=metric("Invocation5XXErrors", "Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
        cloudwatch.Alarm(
            scope,
            "ModelLatencyAlarm",
            alarm_name=f"{endpoint_name}-model-latency-p99",
            alarm_description=f"p99 ModelLatency above {latency_p99_ms} ms for 15 minutes.",
            metric=metric("ModelLatency", "p99"),  # microseconds
            threshold=latency_p99_ms * 1000,
            evaluation_periods=3,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
    ]
    _notify(alarms, topic)
    return alarms


def _notify(alarms: list[cloudwatch.Alarm], topic: sns.ITopic) -> None:
    """Send each alarm's ALARM and OK transitions to ``topic``."""
    for alarm in alarms:
        alarm.add_alarm_action(actions.SnsAction(topic))
        alarm.add_ok_action(actions.SnsAction(topic))
