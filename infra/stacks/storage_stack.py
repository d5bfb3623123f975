"""Stateful resources: the data bucket, the predictions table, the Model Registry group.

The data bucket has its own access-log bucket; the group holds one version per accepted model.
Kept in their own stack with ``RETAIN`` removal policies, so the pipeline stack can be destroyed
and redeployed without losing raw data, models or predictions.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infra.config import AppConfig
from infra.nag import acknowledge

PARTITION_KEY = "customer_id"
"""Predictions table partition key: the customer id (a string)."""
SORT_KEY = "prediction_key"
"""Predictions table sort key: ``<run id>`` (gap models) or ``<run id>#<record id>`` (anomaly)."""


class StorageStack(cdk.Stack):
    """The data bucket, its server access-log bucket, and the DynamoDB predictions table.

    Attributes:
        data_bucket: raw files, run channels, predictions, models and checkpoints.
        predictions_table: one item per customer (and transaction, for anomaly runs) per run.
        model_package_group: the Model Registry group (one version per accepted model).
    """

    def __init__(self, scope: Construct, id_: str, *, config: AppConfig, **kwargs: object) -> None:
        """Create the stateful resources.

        Args:
            scope: the app.
            id_: the stack id.
            config: the deployment configuration (names come from ``config.names``).
            **kwargs: forwarded to ``cdk.Stack`` (env, description, ...).
        """
        super().__init__(scope, id_, **kwargs)  # type: ignore[arg-type]
        names = config.names
        logs = self._access_log_bucket(names.access_log_bucket)
        self.data_bucket = s3.Bucket(
            self,
            "DataBucket",
            bucket_name=names.data_bucket,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=logs,
            server_access_logs_prefix="data-bucket/",
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[
                # Failed Batch Transform and multipart uploads leave parts behind (contract C16).
                s3.LifecycleRule(
                    id="AbortIncompleteMultipartUploads",
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                ),
                s3.LifecycleRule(
                    id="ExpireOldVersions",
                    noncurrent_version_expiration=cdk.Duration.days(30),
                ),
            ],
        )
        self.predictions_table = dynamodb.Table(
            self,
            "PredictionsTable",
            table_name=names.predictions_table,
            partition_key=dynamodb.Attribute(
                name=PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=names.model_package_group,
            model_package_group_description="retailsage models that passed the quality gate",
        )
        self.model_package_group.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        cdk.CfnOutput(self, "ModelPackageGroupName", value=names.model_package_group)
        cdk.CfnOutput(self, "DataBucketName", value=self.data_bucket.bucket_name)
        cdk.CfnOutput(self, "PredictionsTableName", value=self.predictions_table.table_name)

    def _access_log_bucket(self, name: str) -> s3.Bucket:
        """Create the bucket that receives the data bucket's server access logs."""
        bucket = s3.Bucket(
            self,
            "AccessLogBucket",
            bucket_name=name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=cdk.Duration.days(365),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "This is the server access-log bucket itself; logging it into itself would loop.",
        )
        return bucket
