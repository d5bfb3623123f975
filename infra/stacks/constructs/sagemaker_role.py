"""The SageMaker execution role: what training and transform containers may touch."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import ImageConfig
from infra.nag import acknowledge


def image_pull_statements(scope: Construct, image: ImageConfig) -> list[iam.PolicyStatement]:
    """Return the ECR statements that let SageMaker pull ``image`` (and nothing else).

    Args:
        scope: any construct of the stack (for ARN formatting).
        image: the container image.

    Returns:
        The token statement (no resource-level permissions exist) and the scoped pull statement.
    """
    repository_arn = cdk.Stack.of(scope).format_arn(
        service="ecr",
        region=image.region,
        account=image.account,
        resource="repository",
        resource_name=image.repository,
    )
    return [
        iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
        iam.PolicyStatement(
            actions=[
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            resources=[repository_arn],
        ),
    ]


def sagemaker_logging_statements(
    scope: Construct, job_kinds: tuple[str, ...]
) -> list[iam.PolicyStatement]:
    """Return the CloudWatch Logs and metrics statements SageMaker jobs/endpoints need.

    Args:
        scope: any construct of the stack (for ARN formatting).
        job_kinds: log-group suffixes, e.g. ``("TrainingJobs", "TransformJobs")``.

    Returns:
        Log-group-scoped logs statements and a namespace-conditioned metrics statement.
    """
    stack = cdk.Stack.of(scope)
    groups = [
        stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/sagemaker/{kind}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        for kind in job_kinds
    ]
    return [
        iam.PolicyStatement(
            actions=[
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
            ],
            resources=groups,
        ),
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
        ),
    ]


class SageMakerExecutionRole(Construct):
    """Role passed to SageMaker jobs; scoped to the data bucket's prefixes.

    The pipeline's jobs run as one (runs/models/checkpoints); ad-hoc training jobs started from
    a workstation run as another (reads ``raw/`` and ``adhoc/``, writes only ``adhoc/``).

    Attributes:
        role: the IAM role (``iam:PassRole`` on it is granted to the state machine only).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        role_name: str,
        bucket_name: str,
        bucket_arn: str,
        read_prefixes: tuple[str, ...],
        write_prefixes: tuple[str, ...],
        image: ImageConfig,
        job_kinds: tuple[str, ...] = ("TrainingJobs", "TransformJobs"),
        description: str = "retailsage training and Batch Transform jobs",
    ) -> None:
        """Create the role.

        Args:
            scope: the parent construct.
            id_: the construct id.
            role_name: physical role name.
            bucket_name: name of the data bucket.
            bucket_arn: ARN of the data bucket.
            read_prefixes: key prefixes the jobs read (channels, scoring rows, models).
            write_prefixes: key prefixes the jobs write (models, checkpoints, predictions).
            image: the container image the jobs pull.
            job_kinds: the SageMaker log groups the jobs write (``TrainingJobs``, ...).
            description: the role's description.
        """
        super().__init__(scope, id_)
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=description,
        )
        statements = [
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[f"{bucket_arn}/{prefix}*" for prefix in read_prefixes],
            ),
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"],
                resources=[f"{bucket_arn}/{prefix}*" for prefix in write_prefixes],
            ),
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket_arn]),
            *image_pull_statements(self, image),
            *sagemaker_logging_statements(self, job_kinds),
        ]
        policy = iam.Policy(self, "Policy", statements=statements)
        policy.attach_to_role(self.role)
        for prefix in sorted({*read_prefixes, *write_prefixes}):
            acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{bucket_name}/{prefix}*]",
                "Objects are created per run under this pipeline-owned prefix; their keys are "
                "only known at run time.",
            )
        acknowledge_job_wildcards(policy, job_kinds)


def acknowledge_job_wildcards(construct: Construct, job_kinds: tuple[str, ...]) -> None:
    """Acknowledge the ECR token and metrics wildcards every SageMaker role needs.

    Args:
        construct: the policy holding :func:`image_pull_statements` and
            :func:`sagemaker_logging_statements`.
        job_kinds: the log-group suffixes passed to :func:`sagemaker_logging_statements`.
    """
    stack = cdk.Stack.of(construct)
    for kind in job_kinds:
        acknowledge(
            construct,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:"
            f"{stack.region}:{stack.account}:log-group:/aws/sagemaker/{kind}:*]",
            "SageMaker names the log streams per job/instance at run time; the statement is "
            f"limited to the /aws/sagemaker/{kind} log group.",
        )
    acknowledge(
        construct,
        "AwsSolutions-IAM5[Resource::*]",
        "ecr:GetAuthorizationToken and cloudwatch:PutMetricData support no resource-level "
        "permissions; PutMetricData is limited to the /aws/sagemaker/* namespaces by condition.",
    )
