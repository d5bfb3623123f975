"""One pipeline Lambda: function, its own log group and a role with only what it needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import LambdaConfig
from infra.nag import acknowledge

RUNTIME = lambda_.Runtime.PYTHON_3_12
"""Matches the Python 3.12 builds of the pandas and Powertools layers."""


class PipelineFunction(Construct):
    """A Python Lambda from the staged asset, with an explicit role and log group.

    Attributes:
        function: the Lambda function.
        role: its execution role (callers add the data permissions).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        function_name: str,
        handler: str,
        code_dir: Path,
        environment: Mapping[str, str],
        settings: LambdaConfig,
        statements: Sequence[iam.PolicyStatement],
        ephemeral_storage_mb: int = 512,
        description: str,
    ) -> None:
        """Create the function.

        Args:
            scope: the parent construct.
            id_: the construct id.
            function_name: physical function name.
            handler: ``module.function`` inside the asset, e.g.
                ``lambdas.extract.handler.lambda_handler``.
            code_dir: the staged asset directory.
            environment: environment variables (resource names from the typed config).
            settings: memory, timeout, layers, retention.
            statements: the data permissions of this function.
            ephemeral_storage_mb: ``/tmp`` size.
            description: what the function does.
        """
        super().__init__(scope, id_)
        region = cdk.Stack.of(self).region
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=log_retention(settings.log_retention_days),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {function_name}",
        )
        policy = iam.Policy(
            self,
            "Policy",
            statements=[
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn],
                ),
                *statements,
            ],
        )
        policy.attach_to_role(self.role)
        self.policy = policy
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler=handler,
            code=lambda_.Code.from_asset(str(code_dir)),
            memory_size=settings.memory_mb,
            timeout=cdk.Duration.seconds(settings.timeout_seconds),
            ephemeral_storage_size=cdk.Size.mebibytes(ephemeral_storage_mb),
            environment=dict(environment),
            layers=[
                lambda_.LayerVersion.from_layer_version_arn(
                    self, "PandasLayer", settings.pandas_layer_arn.format(region=region)
                ),
                lambda_.LayerVersion.from_layer_version_arn(
                    self, "PowertoolsLayer", settings.powertools_layer_arn.format(region=region)
                ),
            ],
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
        )
        self.function.node.add_dependency(policy)
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::<{logical_id(self.log_group)}.Arn>]",
            "A log group ARN ends in ':*' to cover its log streams, which Lambda names at run "
            "time; the statement is limited to this function's own log group.",
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "Pinned to Python 3.12: the managed AWS SDK for pandas and Powertools layers it "
            "loads are built per Python version; move with them.",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Active tracing adds xray:PutTraceSegments/PutTelemetryRecords, which support no "
            "resource-level permissions.",
        )


def logical_id(construct: Construct) -> str:
    """Return the CloudFormation logical id of a construct's default child.

    Args:
        construct: an L2 construct (function, log group, state machine).

    Returns:
        The resolved logical id, as cdk-nag prints it in finding ids.
    """
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return str(cdk.Stack.of(construct).resolve(child.logical_id))


_RETENTION: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
}


def log_retention(days: int) -> logs.RetentionDays:
    """Map a retention in days to the CloudWatch Logs enum.

    Args:
        days: one of 1, 3, 5, 7, 14, 30, 60, 90, 180, 365, 731.

    Returns:
        The matching ``RetentionDays`` member.

    Raises:
        ValueError: for a number of days CloudWatch Logs does not offer here.
    """
    if days not in _RETENTION:
        raise ValueError(f"log retention {days} days is not one of {sorted(_RETENTION)}")
    return _RETENTION[days]
