"""The pipeline: Lambdas, SageMaker role, state machine, failure topic and schedule.

Stateless: the bucket and table are looked up by their configured names, so this stack can be
destroyed and redeployed without touching the storage stack (no cross-stack exports).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct
from lambdas.common import settings as env

from infra.config import AppConfig
from infra.nag import acknowledge
from infra.stacks.constructs.alarms import allow_alarm_publishing, pipeline_alarms
from infra.stacks.constructs.lambda_asset import stage_lambda_source
from infra.stacks.constructs.pipeline_definition import PipelineDefinition
from infra.stacks.constructs.pipeline_function import PipelineFunction, log_retention, logical_id
from infra.stacks.constructs.sagemaker_role import SageMakerExecutionRole
from infra.stacks.constructs.sagemaker_states import SageMakerTargets
from infra.stacks.constructs.state_machine_access import sagemaker_task_statements


class PipelineStack(cdk.Stack):
    """The scheduled Step Functions pipeline around the one SageMaker image.

    Attributes:
        state_machine: the pipeline state machine.
        failure_topic: SNS topic notified on every failed execution.
        extract_function: the extract Lambda.
        write_function: the write-predictions Lambda.
        sagemaker_role: the execution role of training and transform jobs.
        adhoc_training_role: the execution role of ad-hoc training jobs (SageMaker SDK).
        schedule: the EventBridge Scheduler schedule.
        alarms: CloudWatch alarms on executions (notify ``failure_topic``).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: AppConfig,
        metric_definitions: Sequence[Mapping[str, str]],
        **kwargs: object,
    ) -> None:
        """Create the pipeline.

        Args:
            scope: the app.
            id_: the stack id.
            config: the deployment configuration.
            metric_definitions: ``retailsage.train.metrics.METRIC_DEFINITIONS``.
            **kwargs: forwarded to ``cdk.Stack`` (env, description, ...).

        Raises:
            ValueError: a quality-gate metric is not among the metric definitions.
        """
        super().__init__(scope, id_, **kwargs)  # type: ignore[arg-type]
        _check_gates(config, metric_definitions)
        names = config.names
        bucket = s3.Bucket.from_bucket_name(self, "DataBucket", names.data_bucket)
        table = dynamodb.Table.from_table_name(self, "PredictionsTable", names.predictions_table)
        stage = cdk.Stage.of(self)
        assert stage is not None  # a stack always lives in an app/stage
        code_dir = stage_lambda_source(Path(stage.outdir) / f"{id_}-lambda-src")
        self.sagemaker_role = SageMakerExecutionRole(
            self,
            "SageMakerExecutionRole",
            role_name=names.sagemaker_role,
            bucket_name=names.data_bucket,
            bucket_arn=bucket.bucket_arn,
            # raw/: the Featurize Data processing job reads the source files
            read_prefixes=(config.raw_prefix, config.runs_prefix, config.checkpoints_prefix),
            write_prefixes=(config.runs_prefix, config.models_prefix, config.checkpoints_prefix),
            image=config.image,
            job_kinds=("TrainingJobs", "TransformJobs", "ProcessingJobs"),
            description="retailsage featurize, training and Batch Transform jobs",
        ).role
        self.adhoc_training_role = SageMakerExecutionRole(
            self,
            "AdhocTrainingRole",
            role_name=names.adhoc_training_role,
            bucket_name=names.data_bucket,
            bucket_arn=bucket.bucket_arn,
            read_prefixes=(config.raw_prefix, config.adhoc_prefix),
            write_prefixes=(config.adhoc_prefix,),
            image=config.image,
            job_kinds=("TrainingJobs",),
            description="retailsage ad-hoc training jobs (reads raw/ and adhoc/, writes adhoc/)",
        ).role
        self.extract_function = self._extract_function(config, bucket, code_dir)
        self.write_function = self._write_function(config, bucket, table, code_dir)
        self.failure_topic = self._failure_topic(config)
        definition = PipelineDefinition(
            self,
            "Definition",
            config=config,
            extract_function=self.extract_function.function,
            write_function=self.write_function.function,
            failure_topic=self.failure_topic,
            data_bucket=bucket,
            predictions_table=table,
            targets=SageMakerTargets(
                image_uri=config.image.uri,
                role_arn=self.sagemaker_role.role_arn,
                models_uri=f"s3://{names.data_bucket}/{config.models_prefix}",
            ),
            metric_definitions=metric_definitions,
        )
        self.state_machine = self._state_machine(config, definition)
        self.schedule = self._schedule(config)
        assert self.failure_topic.master_key is not None  # _failure_topic always encrypts
        allow_alarm_publishing(self.failure_topic, self.failure_topic.master_key, config.account)
        self.alarms = pipeline_alarms(
            self,
            prefix=config.prefix,
            state_machine=self.state_machine,
            topic=self.failure_topic,
            success_alarm_hours=config.schedule.success_alarm_hours
            if config.schedule.enabled
            else None,
        )
        self._acknowledge_wildcards(config)
        cdk.CfnOutput(self, "StateMachineArn", value=self.state_machine.state_machine_arn)
        cdk.CfnOutput(self, "FailureTopicArn", value=self.failure_topic.topic_arn)
        cdk.CfnOutput(
            self,
            "AdhocTrainingRoleArn",
            value=self.adhoc_training_role.role_arn,
            description="role= of ad-hoc SageMaker SDK training jobs (docs/deploy.md)",
        )

    def _extract_function(
        self, config: AppConfig, bucket: s3.IBucket, code_dir: Path
    ) -> PipelineFunction:
        """Create the extract Lambda: reads raw files, writes the run's channels."""
        return PipelineFunction(
            self,
            "ExtractFunction",
            function_name=config.names.extract_function,
            handler="lambdas.extract.handler.lambda_handler",
            code_dir=code_dir,
            description="Raw transactions -> training channel (Parquet) and scoring rows (JSONL)",
            settings=config.lambdas,
            ephemeral_storage_mb=config.lambdas.ephemeral_storage_mb,
            environment={
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
            },
            statements=[
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]),
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[bucket.arn_for_objects(f"{config.raw_prefix}*")],
                ),
                iam.PolicyStatement(
                    actions=["s3:PutObject"],
                    resources=[bucket.arn_for_objects(f"{config.runs_prefix}*")],
                ),
            ],
        )

    def _write_function(
        self, config: AppConfig, bucket: s3.IBucket, table: dynamodb.ITable, code_dir: Path
    ) -> PipelineFunction:
        """Create the write-predictions Lambda: one transform output object -> DynamoDB."""
        return PipelineFunction(
            self,
            "WritePredictionsFunction",
            function_name=config.names.write_function,
            handler="lambdas.write_predictions.handler.lambda_handler",
            code_dir=code_dir,
            description="Batch Transform output (JSON Lines) -> DynamoDB predictions items",
            settings=config.lambdas,
            environment={
                env.TABLE_NAME: config.names.predictions_table,
                "POWERTOOLS_SERVICE_NAME": "retailsage-write-predictions",
                "POWERTOOLS_LOG_LEVEL": "INFO",
            },
            statements=[
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[bucket.arn_for_objects(f"{config.runs_prefix}*")],
                ),
                iam.PolicyStatement(
                    actions=["dynamodb:BatchWriteItem"], resources=[table.table_arn]
                ),
            ],
        )

    def _failure_topic(self, config: AppConfig) -> sns.Topic:
        """Create the encrypted, TLS-only failure topic and its e-mail subscriptions."""
        key = kms.Key(
            self,
            "FailureTopicKey",
            enable_key_rotation=True,
            description="Encrypts the retailsage pipeline failure topic",
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        topic = sns.Topic(
            self,
            "FailureTopic",
            topic_name=config.names.failure_topic,
            master_key=key,
            enforce_ssl=True,
        )
        for address in config.notification_emails:
            topic.add_subscription(subscriptions.EmailSubscription(address))
        return topic

    def _state_machine(self, config: AppConfig, definition: PipelineDefinition) -> sfn.StateMachine:
        """Create the logged, traced state machine and grant its SageMaker permissions."""
        log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            log_group_name=f"/aws/vendedlogs/states/{config.names.state_machine}",
            retention=log_retention(config.log_retention_days),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        machine = sfn.StateMachine(
            self,
            "PipelineStateMachine",
            state_machine_name=config.names.state_machine,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(definition.start),
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
            tracing_enabled=True,
            timeout=cdk.Duration.hours(24),
            comment="retailsage: extract (-> featurize) -> train -> gate -> model -> transform -> "
            "write",
        )
        for statement in sagemaker_task_statements(
            self,
            name_prefix=config.names.job_prefix,
            sagemaker_role_arn=self.sagemaker_role.role_arn,
            model_package_group=config.names.model_package_group,
        ):
            machine.add_to_role_policy(statement)
        # Publishing to the KMS-encrypted topic needs the key explicitly (contract D19).
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.failure_topic.master_key.key_arn],  # type: ignore[union-attr]
            )
        )
        return machine

    def _acknowledge_wildcards(self, config: AppConfig) -> None:
        """Record why each remaining wildcard in this stack's policies is needed."""
        names = config.names
        objects = f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{names.data_bucket}/"
        per_run = (
            "Objects are created per run under this pipeline-owned prefix; keys are only "
            "known at run time."
        )
        acknowledge(
            self.extract_function.policy,
            f"{objects}{config.raw_prefix}*]",
            "Sources are any files an upstream system drops under the raw prefix.",
        )
        for function in (self.extract_function, self.write_function):
            acknowledge(function.policy, f"{objects}{config.runs_prefix}*]", per_run)
        policy = self.state_machine.role.node.find_child("DefaultPolicy")
        for function in (self.extract_function, self.write_function):
            acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::<{logical_id(function.function)}.Arn>:*]",
                "LambdaInvoke grants the function and its version/alias qualifiers (ARN:*), "
                "all of this one function.",
            )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "CloudWatch Logs vended log delivery (logs:*LogDelivery, resource policies) and "
            "X-Ray tracing support no resource-level permissions.",
        )
        for kind in ("training-job", "transform-job", "processing-job", "model"):
            acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:{self.region}:"
                f"{self.account}:{kind}/{names.job_prefix}-*]",
                "SageMaker names are derived per execution at run time; every name the "
                "pipeline creates starts with the deployment prefix.",
            )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:{self.region}:"
            f"{self.account}:model-package/{names.model_package_group}/*]",
            "Model package versions are numbered by SageMaker at registration; the grant is "
            "limited to the versions of this deployment's one model package group.",
        )
        machine = logical_id(self.state_machine)
        execution = (
            f"arn:<AWS::Partition>:states:{self.region}:{self.account}:execution:"
            f'{{"Fn::Select":[6,{{"Fn::Split":[":",{{"Ref":"{machine}"}}]}}]}}'
        )
        map_policy = self.state_machine.node.find_child("DistributedMapPolicy")
        for suffix in (":*", "/*:*"):
            acknowledge(
                map_policy,
                f"AwsSolutions-IAM5[Resource::{execution}{suffix}]",
                "The Distributed Map starts and watches child executions of this state "
                "machine only; their names are generated at run time.",
            )

    def _schedule(self, config: AppConfig) -> scheduler.Schedule:
        """Create the EventBridge Scheduler schedule that starts the pipeline."""
        return scheduler.Schedule(
            self,
            "NightlySchedule",
            schedule_name=config.names.schedule,
            schedule=scheduler.ScheduleExpression.expression(
                config.schedule.expression, cdk.TimeZone.of(config.schedule.timezone)
            ),
            target=targets.StepFunctionsStartExecution(
                self.state_machine,
                input=scheduler.ScheduleTargetInput.from_object(
                    dict(config.schedule.execution_input)
                ),
                retry_attempts=3,
            ),
            enabled=config.schedule.enabled,
            description="Starts the retailsage pipeline with the configured input",
        )


def _check_gates(config: AppConfig, metric_definitions: Sequence[Mapping[str, str]]) -> None:
    """Raise ValueError when a gate names a metric the training job does not publish."""
    published = {item["Name"] for item in metric_definitions}
    missing = [gate.metric_name for gate in config.gates if gate.metric_name not in published]
    if missing:
        raise ValueError(f"quality-gate metrics {missing} are not in the metric definitions")
