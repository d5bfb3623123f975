"""Least-privilege IAM for the state machine's raw SageMaker tasks (``.sync`` included)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

# EventBridge managed rules Step Functions creates to learn that a .sync job finished.
MANAGED_RULES: tuple[str, ...] = (
    "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
    "StepFunctionsGetEventsForSageMakerTransformJobsRule",
    "StepFunctionsGetEventsForSageMakerProcessingJobsRule",
)


def sagemaker_task_statements(
    scope: Construct, *, name_prefix: str, sagemaker_role_arn: str, model_package_group: str
) -> list[iam.PolicyStatement]:
    """Return the statements the Featurize, Train, Register/Create Model and Transform states need.

    Job and model names are ``<name_prefix>-...`` (the extract Lambda derives them from the
    execution name), so every SageMaker resource is scoped to that prefix.

    Args:
        scope: any construct of the stack (for ARN formatting).
        name_prefix: the prefix of every SageMaker name the pipeline creates.
        sagemaker_role_arn: the role the jobs run as (the only role that may be passed).
        model_package_group: the Model Registry group (versions are registered only there).

    Returns:
        The policy statements.
    """
    stack = cdk.Stack.of(scope)

    def arn(resource: str) -> str:
        return stack.format_arn(
            service="sagemaker", resource=resource, resource_name=f"{name_prefix}-*"
        )

    training, transform, model = arn("training-job"), arn("transform-job"), arn("model")
    processing = arn("processing-job")
    rules = [
        stack.format_arn(service="events", resource="rule", resource_name=rule)
        for rule in MANAGED_RULES
    ]
    return [
        iam.PolicyStatement(
            sid="TrainingJobs",
            actions=[
                "sagemaker:CreateTrainingJob",
                "sagemaker:DescribeTrainingJob",
                "sagemaker:StopTrainingJob",
            ],
            resources=[training],
        ),
        iam.PolicyStatement(
            sid="TransformJobs",
            actions=[
                "sagemaker:CreateTransformJob",
                "sagemaker:DescribeTransformJob",
                "sagemaker:StopTransformJob",
            ],
            resources=[transform],
        ),
        iam.PolicyStatement(
            sid="ProcessingJobs",
            actions=[
                "sagemaker:CreateProcessingJob",
                "sagemaker:DescribeProcessingJob",
                "sagemaker:StopProcessingJob",
            ],
            resources=[processing],
        ),
        iam.PolicyStatement(sid="Models", actions=["sagemaker:CreateModel"], resources=[model]),
        iam.PolicyStatement(
            sid="RegisterModelPackages",
            actions=["sagemaker:CreateModelPackage"],
            resources=[
                stack.format_arn(
                    service="sagemaker",
                    resource="model-package",
                    resource_name=f"{model_package_group}/*",
                ),
                stack.format_arn(
                    service="sagemaker",
                    resource="model-package-group",
                    resource_name=model_package_group,
                ),
            ],
        ),
        iam.PolicyStatement(
            sid="JobTags",
            actions=["sagemaker:ListTags"],
            resources=[training, transform, processing, model],
        ),
        iam.PolicyStatement(
            sid="PassSageMakerRole",
            actions=["iam:PassRole"],
            resources=[sagemaker_role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        ),
        iam.PolicyStatement(
            sid="SyncManagedRules",
            actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            resources=rules,
        ),
    ]
