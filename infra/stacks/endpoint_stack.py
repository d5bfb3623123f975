"""A real-time SageMaker endpoint for one chosen model artifact, with target-tracking scaling."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.config import AppConfig, EndpointConfig
from infra.nag import acknowledge
from infra.stacks.constructs.alarms import endpoint_alarms
from infra.stacks.constructs.sagemaker_role import (
    acknowledge_job_wildcards,
    image_pull_statements,
    sagemaker_logging_statements,
)

VARIANT_NAME = "AllTraffic"


class EndpointStack(cdk.Stack):
    """Model, endpoint config, endpoint and invocations-per-instance autoscaling.

    Attributes:
        endpoint: the endpoint (its name is ``config.names.endpoint``).
        alarms: 5xx and p99-latency alarms, notifying the pipeline's failure topic (by name).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: AppConfig,
        endpoint: EndpointConfig,
        **kwargs: object,
    ) -> None:
        """Create the endpoint.

        Args:
            scope: the app.
            id_: the stack id.
            config: the deployment configuration (image, names).
            endpoint: the endpoint settings and the model artifact to serve.
            **kwargs: forwarded to ``cdk.Stack``.
        """
        super().__init__(scope, id_, **kwargs)  # type: ignore[arg-type]
        role = self._model_role(config, endpoint)
        model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=role.role_arn,
            enable_network_isolation=True,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=config.image.uri,
                mode="SingleModel",
                model_data_url=endpoint.model_data_url,
                environment={
                    "SAGEMAKER_MODEL_SERVER_WORKERS": str(endpoint.model_server_workers),
                },
            ),
        )
        model.node.add_dependency(role)
        key = kms.Key(
            self,
            "EndpointVolumeKey",
            enable_key_rotation=True,
            description="Encrypts the retailsage endpoint's ML storage volumes",
        )
        endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            kms_key_id=key.key_arn,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT_NAME,
                    model_name=model.attr_model_name,
                    initial_instance_count=endpoint.initial_instance_count,
                    instance_type=endpoint.instance_type,
                    initial_variant_weight=1.0,
                    container_startup_health_check_timeout_in_seconds=(
                        endpoint.startup_health_check_timeout_seconds
                    ),
                    model_data_download_timeout_in_seconds=(
                        endpoint.model_data_download_timeout_seconds
                    ),
                )
            ],
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=config.names.endpoint,
            endpoint_config_name=endpoint_config.attr_endpoint_config_name,
        )
        self._autoscaling(config.names.endpoint, endpoint)
        topic = sns.Topic.from_topic_arn(
            self,
            "FailureTopic",
            f"arn:{cdk.Aws.PARTITION}:sns:{config.region}:{config.account}:"
            f"{config.names.failure_topic}",
        )
        self.alarms = endpoint_alarms(
            self,
            endpoint_name=config.names.endpoint,
            variant_name=VARIANT_NAME,
            topic=topic,
            latency_p99_ms=endpoint.latency_alarm_p99_ms,
        )
        acknowledge(
            model,
            "AwsSolutions-SM1",
            "The model runs with network isolation (no outbound network at all); a VPC adds "
            "nothing for a container that only reads its artifact and answers invocations.",
        )
        cdk.CfnOutput(self, "EndpointName", value=config.names.endpoint)

    def _model_role(self, config: AppConfig, endpoint: EndpointConfig) -> iam.Role:
        """Create the model's execution role: read the one artifact, pull the image, log."""
        bucket, _, key = endpoint.model_data_url.removeprefix("s3://").partition("/")
        role = iam.Role(
            self,
            "ModelRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="retailsage real-time endpoint model",
        )
        policy = iam.Policy(
            self,
            "ModelPolicy",
            statements=[
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[f"arn:{cdk.Aws.PARTITION}:s3:::{bucket}/{key}"],
                ),
                *image_pull_statements(self, config.image),
                *sagemaker_logging_statements(self, ("Endpoints",)),
            ],
        )
        policy.attach_to_role(role)
        acknowledge_job_wildcards(policy, ("Endpoints",))
        return role

    def _autoscaling(self, endpoint_name: str, endpoint: EndpointConfig) -> None:
        """Track invocations per instance between the configured capacity bounds."""
        target = autoscaling.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=autoscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{endpoint_name}/variant/{VARIANT_NAME}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=endpoint.min_capacity,
            max_capacity=endpoint.max_capacity,
        )
        target.node.add_dependency(self.endpoint)
        target.scale_to_track_metric(
            "InvocationsPerInstance",
            target_value=endpoint.target_invocations_per_instance,
            predefined_metric=autoscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            scale_in_cooldown=cdk.Duration.seconds(endpoint.scale_in_cooldown_seconds),
            scale_out_cooldown=cdk.Duration.seconds(endpoint.scale_out_cooldown_seconds),
        )
