"""The pipeline's states and transitions; names come from ``retailsage.pipeline.states``.

Extract Data -> Where To Featurize (-> Featurize Data, a SageMaker Processing job, when the
extract planned one for a large input) -> Train Model -> Quality Gate -> Register Model ->
Create Model -> Batch Transform -> Write Predictions (Distributed Map over the ``*.out``
objects) -> Publish Run (the run's completion marker) -> Pipeline Succeeded. ``NoNewData`` from
the extract ends in "Nothing To Do"; a model that does not beat the best same-run baseline by
the margin in "Model Rejected" (never registered, so the previous approved version keeps
serving); every other failure goes through "Notify Failure" to "Pipeline Failed" (a run that
fails while writing is never published, so readers never take its items for a complete run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct
from lambdas.common.errors import NO_NEW_DATA
from lambdas.common.events import PROCESSING, ExtractResult, WritePredictionsResult
from lambdas.write_predictions.records import (
    PARTITION_KEY,
    RUN_MARKER_PARTITION,
    RUN_STATUS,
    RUN_STATUS_COMPLETE,
    SORT_KEY,
)

from infra.config import AppConfig, QualityGateRule
from infra.stacks.constructs import error_handling as eh
from infra.stacks.constructs import sagemaker_states as sm
from retailsage.pipeline import states


def payload_selector(fields: Sequence[str]) -> dict[str, str]:
    """Return a ``ResultSelector`` copying ``fields`` out of a Lambda invoke's ``Payload``.

    Args:
        fields: the result model's field names.

    Returns:
        ``{"<field>.$": "$.Payload.<field>"}`` (an explicit list: only URIs and counts travel).
    """
    return {name: sfn.JsonPath.string_at(f"$.Payload.{name}") for name in fields}


def gate_condition(rule: QualityGateRule) -> sfn.Condition:
    """Return the Choice condition under which a model of ``rule.model_type`` passes.

    Args:
        rule: the model type, its metric and direction.

    Returns:
        model_type matches AND the gate value is present AND within the input's threshold
        (for the default rules: the improvement over the best same-run baseline >= margin).
    """
    variable = "$.training.gate_value[0]"
    threshold = "$.extract.quality_threshold"
    compare = (
        sfn.Condition.number_greater_than_equals_json_path(variable, threshold)
        if rule.higher_is_better
        else sfn.Condition.number_less_than_equals_json_path(variable, threshold)
    )
    return sfn.Condition.and_(
        sfn.Condition.string_equals("$.extract.model_type", rule.model_type),
        sfn.Condition.is_present(variable),
        compare,
    )


class PipelineDefinition(Construct):
    """Builds the state machine's states; ``start`` is the chain to hand to the state machine.

    Attributes:
        start: the first state, chained through the whole pipeline.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: AppConfig,
        extract_function: lambda_.IFunction,
        write_function: lambda_.IFunction,
        failure_topic: sns.ITopic,
        data_bucket: s3.IBucket,
        predictions_table: dynamodb.ITable,
        targets: sm.SageMakerTargets,
        metric_definitions: Sequence[Mapping[str, str]],
    ) -> None:
        """Create the states.

        Args:
            scope: the parent construct.
            id_: the construct id.
            config: the deployment configuration.
            extract_function: the extract Lambda.
            write_function: the write-predictions Lambda.
            failure_topic: where failures are published.
            data_bucket: the data bucket (the Distributed Map lists the transform output there).
            predictions_table: the predictions table (the run marker is written there).
            targets: image, SageMaker role and model output location.
            metric_definitions: the container's training metric definitions.
        """
        super().__init__(scope, id_)
        failed = self._failure_path(failure_topic)
        extract = self._extract(extract_function)
        extract.add_catch(
            sfn.Succeed(self, states.NOTHING_TO_DO, comment="No new transactions to learn from."),
            errors=[NO_NEW_DATA],
            result_path="$.no_new_data",
        )
        featurize = self._custom(
            states.FEATURIZE_DATA,
            sm.featurize_state(targets=targets, featurize=config.featurize),
        )
        where = sfn.Choice(
            self,
            states.WHERE_TO_FEATURIZE,
            comment="The extract featurized in the Lambda, or planned a Processing job.",
        )
        train = self._custom(
            states.TRAIN_MODEL,
            sm.train_state(
                targets=targets,
                training=config.training,
                metric_definitions=[
                    *metric_definitions,
                    sm.gate_metric_definition([gate.metric_name for gate in config.gates]),
                ],
            ),
        )
        register = self._custom(
            states.REGISTER_MODEL,
            sm.register_model_state(
                targets=targets,
                group_name=config.names.model_package_group,
                approval_status=config.registry.approval_status,
            ),
        )
        create_model = self._custom(
            states.CREATE_MODEL,
            sm.create_model_state(
                targets=targets,
                environment={
                    "SAGEMAKER_MODEL_SERVER_WORKERS": str(
                        config.transform.max_concurrent_transforms
                    ),
                    "SAGEMAKER_MODEL_SERVER_TIMEOUT": str(
                        config.transform.invocations_timeout_seconds
                    ),
                },
            ),
        )
        transform = self._custom(
            states.BATCH_TRANSFORM, sm.transform_state(transform=config.transform)
        )
        write = self._write_predictions(
            write_function, data_bucket, config.lambdas.write_concurrency
        )
        publish = self._publish_run(predictions_table)
        gate = sfn.Choice(
            self,
            states.QUALITY_GATE,
            comment="Improvement over the best same-run baseline vs the input margin.",
        )
        rejected = sfn.Succeed(
            self,
            states.MODEL_REJECTED,
            comment="The model did not beat the best same-run baseline by the margin; it is not "
            "registered, so the previous approved version keeps serving. Metrics: $.training.",
        )
        for task in (extract, write, publish):
            task.add_catch(failed, errors=[sfn.Errors.ALL], result_path=eh.ERROR_PATH)
        for custom in (featurize, train, register, create_model, transform):
            custom.add_catch(failed, errors=[sfn.Errors.ALL], result_path=eh.ERROR_PATH)
        for rule in config.gates:
            gate.when(gate_condition(rule), register)
        gate.otherwise(rejected)
        register.next(create_model)
        create_model.next(transform)
        transform.next(write)
        write.next(publish)
        publish.next(sfn.Succeed(self, states.PIPELINE_SUCCEEDED))
        where.when(sfn.Condition.string_equals("$.extract.featurize", PROCESSING), featurize)
        where.otherwise(train)
        featurize.next(train)
        train.next(gate)
        self.start: sfn.IChainable = extract.next(where)
        self.first_state: sfn.State = extract

    def _publish_run(self, table: dynamodb.ITable) -> tasks.DynamoPutItem:
        """Return the task writing the run's completion marker once every object is written."""
        text = tasks.DynamoAttributeValue.from_string
        task = tasks.DynamoPutItem(
            self,
            states.PUBLISH_RUN,
            comment="Mark the run complete: readers take only marked runs (no half runs).",
            table=table,
            item={
                PARTITION_KEY: text(RUN_MARKER_PARTITION),
                SORT_KEY: text(sfn.JsonPath.string_at("$.extract.run_name")),
                RUN_STATUS: text(RUN_STATUS_COMPLETE),
                "execution_name": text(sfn.JsonPath.execution_name),
                "model_type": text(sfn.JsonPath.string_at("$.extract.model_type")),
                "model_package_arn": text(sfn.JsonPath.string_at("$.registry.model_package_arn")),
                "completed_at": text(sfn.JsonPath.string_at("$$.State.EnteredTime")),
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        eh.apply_retry(task, eh.dynamodb_retry())
        return task

    def _failure_path(self, topic: sns.ITopic) -> sfn.State:
        """Return the single notify-then-fail path every Catch leads to."""
        failed = sfn.Fail(
            self,
            states.PIPELINE_FAILED,
            error_path="$.error.Error",
            cause_path="$.error.Cause",
        )
        notify = tasks.SnsPublish(
            self,
            states.NOTIFY_FAILURE,
            topic=topic,
            subject="retailsage pipeline failed",
            message=sfn.TaskInput.from_object(
                {
                    "execution": sfn.JsonPath.execution_id,
                    "state_machine": sfn.JsonPath.string_at("$$.StateMachine.Name"),
                    "error": sfn.JsonPath.string_at("$.error.Error"),
                    "cause": sfn.JsonPath.string_at("$.error.Cause"),
                }
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        eh.apply_retry(notify, eh.notify_retry())
        notify.add_catch(failed, errors=[sfn.Errors.ALL], result_path="$.notify_error")
        notify.next(failed)
        return notify

    def _extract(self, function: lambda_.IFunction) -> tasks.LambdaInvoke:
        """Return the extract task (input: the whole execution input + the execution name)."""
        task = tasks.LambdaInvoke(
            self,
            states.EXTRACT_DATA,
            lambda_function=function,
            payload=sfn.TaskInput.from_object(
                {
                    "execution_name": sfn.JsonPath.execution_name,
                    "input": sfn.JsonPath.entire_payload,
                }
            ),
            result_selector=payload_selector(list(ExtractResult.model_fields)),
            result_path="$.extract",
            retry_on_service_exceptions=False,
        )
        eh.apply_retry(task, eh.lambda_retry())
        return task

    def _custom(self, name: str, state_json: dict[str, object]) -> sfn.CustomState:
        """Return a raw-ASL SageMaker task with the SageMaker retrier."""
        state = sfn.CustomState(self, name, state_json=state_json)
        eh.apply_retry(state, eh.sagemaker_retry())
        return state

    def _write_predictions(
        self, function: lambda_.IFunction, bucket: s3.IBucket, concurrency: int
    ) -> sfn.DistributedMap:
        """Return the Distributed Map that writes every ``*.out`` object in parallel."""
        write_object = tasks.LambdaInvoke(
            self,
            states.WRITE_PREDICTION_OBJECT,
            lambda_function=function,
            payload=sfn.TaskInput.from_json_path_at("$"),
            result_selector=payload_selector(list(WritePredictionsResult.model_fields)),
            retry_on_service_exceptions=False,
        )
        eh.apply_retry(write_object, eh.lambda_retry())
        eh.apply_retry(write_object, eh.throttled_writes_retry())
        write = sfn.DistributedMap(
            self,
            states.WRITE_PREDICTIONS,
            item_reader=sfn.S3ObjectsItemReader(
                bucket=bucket, prefix=sfn.JsonPath.string_at("$.extract.predictions_prefix")
            ),
            item_selector={
                "bucket": bucket.bucket_name,
                "key": sfn.JsonPath.string_at("$$.Map.Item.Value.Key"),
                "run_name": sfn.JsonPath.string_at("$.extract.run_name"),
                "model_type": sfn.JsonPath.string_at("$.extract.model_type"),
            },
            max_concurrency=concurrency,
            map_execution_type=sfn.StateMachineType.STANDARD,
            result_path="$.write",
        )
        write.item_processor(write_object)
        eh.apply_retry(write, eh.item_reader_retry())
        return write
