"""Raw ASL of the SageMaker tasks (``sfn.CustomState``): what CDK's task constructs lack.

CDK's ``SageMakerCreateTrainingJob`` has no managed-spot/checkpoint props,
``SageMakerCreateTransformJob`` no ``DataProcessing`` (aws-cdk #3362) and there is no task
construct for processing jobs at all, so the SageMaker states are written as ASL here and
their IAM is granted by hand in the pipeline stack.
Every ``ResultSelector`` keeps only plain values (the ``Describe*Job`` documents hold datetimes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk

from infra.config import FeaturizeConfig, TrainingConfig, TransformConfig
from retailsage.processing.contract import (
    DEFAULT_LOCAL_PATHS,
    INPUT_RAW,
    OUTPUT_SCORING,
    OUTPUT_TRAIN,
)

CONTENT_TYPE = "application/jsonlines"
SUPPORTED_CONTENT_TYPES = ("application/jsonlines", "application/json", "text/csv")
"""What ``/invocations`` accepts and answers (the registered package declares them)."""


@dataclass(frozen=True)
class SageMakerTargets:
    """The resources the SageMaker states refer to.

    Attributes:
        image_uri: the container image.
        role_arn: the SageMaker execution role.
        models_uri: ``s3://<bucket>/<models prefix>`` (training output).
    """

    image_uri: str
    role_arn: str
    models_uri: str


GATE_METRIC = "retailsage:quality_gate"
"""A derived metric: the value of whichever gate metric the job's family printed last.

A JSONPath filter on ``FinalMetricDataList`` that matches nothing is an uncatchable
``States.Runtime`` error, and gap and anomaly jobs print disjoint metrics; one extra metric
definition whose regex matches every family's gate metric gives the gate a value that exists
for every model type.
"""


def gate_metric_definition(metric_names: Sequence[str]) -> dict[str, str]:
    r"""Return the MetricDefinition of :data:`GATE_METRIC`.

    Args:
        metric_names: the gate metrics of all model types (each family prints only its own).

    Returns:
        ``{"Name": GATE_METRIC, "Regex": "(?:train:anomaly_rate|validation:mae)=(\S+?);"}``.
    """
    alternatives = "|".join(re.escape(name) for name in sorted(set(metric_names)))
    return {"Name": GATE_METRIC, "Regex": rf"(?:{alternatives})=(\S+?);"}


def integration_arn(action: str) -> str:
    """Return the Step Functions service-integration ARN of a SageMaker action.

    Args:
        action: e.g. ``createTrainingJob.sync``.

    Returns:
        ``arn:<partition>:states:::sagemaker:<action>`` (the partition is a token).
    """
    return f"arn:{cdk.Aws.PARTITION}:states:::sagemaker:{action}"


def train_state(
    *,
    targets: SageMakerTargets,
    training: TrainingConfig,
    metric_definitions: Sequence[Mapping[str, str]],
) -> dict[str, Any]:
    """Return the ASL of the training task (``createTrainingJob.sync``).

    Args:
        targets: image, role and output location.
        training: instance, runtime, spot and network-isolation settings.
        metric_definitions: ``[{"Name", "Regex"}]`` from ``retailsage.train.metrics``.

    Returns:
        A Task state (without Next/Catch, which CDK adds).
    """
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": training.max_runtime_seconds}
    parameters: dict[str, Any] = {
        "TrainingJobName.$": "$.extract.run_name",
        "AlgorithmSpecification": {
            "TrainingImage": targets.image_uri,
            "TrainingInputMode": "File",
            "MetricDefinitions": [dict(item) for item in metric_definitions],
        },
        "RoleArn": targets.role_arn,
        "HyperParameters.$": "$.extract.hyperparameters",
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "ContentType": "application/x-parquet",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri.$": "$.extract.train_uri",
                        "S3DataDistributionType": training.distribution,
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": targets.models_uri},
        "ResourceConfig": {
            "InstanceType": training.instance_type,
            "InstanceCount": training.instance_count,
            "VolumeSizeInGB": training.volume_size_gb,
        },
        "StoppingCondition": stopping,
        "EnableNetworkIsolation": training.network_isolation,
    }
    if training.use_spot:
        parameters["EnableManagedSpotTraining"] = True
        stopping["MaxWaitTimeInSeconds"] = training.max_wait_seconds
        parameters["CheckpointConfig"] = {
            "S3Uri.$": "$.extract.checkpoint_uri",
            "LocalPath": "/opt/ml/checkpoints",
        }
    return {
        "Type": "Task",
        "Comment": "Train the model_type family on the extracted channel (.sync).",
        "Resource": integration_arn("createTrainingJob.sync"),
        "Parameters": parameters,
        "ResultSelector": {
            "job_name.$": "$.TrainingJobName",
            "model_artifacts.$": "$.ModelArtifacts.S3ModelArtifacts",
            "gate_value.$": f"$.FinalMetricDataList[?(@.MetricName == '{GATE_METRIC}')].Value",
            "metric_names.$": "$.FinalMetricDataList[*].MetricName",
            "metric_values.$": "$.FinalMetricDataList[*].Value",
        },
        "ResultPath": "$.training",
    }


def featurize_state(*, targets: SageMakerTargets, featurize: FeaturizeConfig) -> dict[str, Any]:
    """Return the ASL of the Processing featurize task (``createProcessingJob.sync``).

    The image's ``featurize`` mode (``ContainerArguments`` planned by the extract Lambda)
    reads the raw prefix and writes the training channel and scoring objects to the same
    prefixes the Lambda would; ``ExitMessage`` carries its counts as JSON.

    Args:
        targets: image and role.
        featurize: instances, volume and runtime.

    Returns:
        A Task state (without Next/Catch, which CDK adds).
    """

    def output(name: str, uri_path: str) -> dict[str, Any]:
        return {
            "OutputName": name,
            "S3Output": {
                "S3Uri.$": uri_path,
                "LocalPath": DEFAULT_LOCAL_PATHS[name],
                "S3UploadMode": "EndOfJob",
            },
        }

    return {
        "Type": "Task",
        "Comment": "Featurize an input beyond the extract Lambda's limits in the image (.sync).",
        "Resource": integration_arn("createProcessingJob.sync"),
        "Parameters": {
            "ProcessingJobName.$": "$.extract.run_name",
            "RoleArn": targets.role_arn,
            "AppSpecification": {
                "ImageUri": targets.image_uri,
                "ContainerArguments.$": "$.extract.featurize_arguments",
            },
            "ProcessingInputs": [
                {
                    "InputName": INPUT_RAW,
                    "S3Input": {
                        "S3Uri.$": "$.extract.source_uri",
                        "LocalPath": DEFAULT_LOCAL_PATHS[INPUT_RAW],
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated",
                    },
                }
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    output(OUTPUT_TRAIN, "$.extract.train_uri"),
                    output(OUTPUT_SCORING, "$.extract.scoring_uri"),
                ]
            },
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": featurize.instance_count,
                    "InstanceType": featurize.instance_type,
                    "VolumeSizeInGB": featurize.volume_size_gb,
                }
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": featurize.max_runtime_seconds},
            "NetworkConfig": {"EnableNetworkIsolation": True},
        },
        "ResultSelector": {
            "job_name.$": "$.ProcessingJobName",
            "counts.$": "States.StringToJson($.ExitMessage)",
        },
        "ResultPath": "$.featurize",
    }


def register_model_state(
    *, targets: SageMakerTargets, group_name: str, approval_status: str
) -> dict[str, Any]:
    """Return the ASL of the registration task (``createModelPackage``, request-response).

    A model that passed the gate becomes a new version in the Model Registry group, with the
    configured approval status; the endpoint stack and any later consumer deploy from the latest
    ``Approved`` version, so a rejected run (never registered) leaves the previous one serving.

    Args:
        targets: the image (the package's inference container).
        group_name: the model package group.
        approval_status: ``Approved`` or ``PendingManualApproval``.

    Returns:
        A Task state.
    """
    return {
        "Type": "Task",
        "Comment": "Register the accepted model as a new version of the model package group.",
        "Resource": integration_arn("createModelPackage"),
        "Parameters": {
            "ModelPackageGroupName": group_name,
            "ModelPackageDescription.$": "$.extract.run_name",
            "ModelApprovalStatus": approval_status,
            "InferenceSpecification": {
                "Containers": [
                    {"Image": targets.image_uri, "ModelDataUrl.$": "$.training.model_artifacts"}
                ],
                "SupportedContentTypes": list(SUPPORTED_CONTENT_TYPES),
                "SupportedResponseMIMETypes": list(SUPPORTED_CONTENT_TYPES),
            },
            "CustomerMetadataProperties": {
                "run_name.$": "$.extract.run_name",
                "model_type.$": "$.extract.model_type",
                "training_job.$": "$.training.job_name",
            },
        },
        "ResultSelector": {"model_package_arn.$": "$.ModelPackageArn"},
        "ResultPath": "$.registry",
    }


def create_model_state(
    *, targets: SageMakerTargets, environment: Mapping[str, str]
) -> dict[str, Any]:
    """Return the ASL of the create-model task (request-response only, contract D1).

    Args:
        targets: image and role.
        environment: container environment of the model (server settings).

    Returns:
        A Task state.
    """
    return {
        "Type": "Task",
        "Comment": "Register the trained artifact as a SageMaker model named after the run.",
        "Resource": integration_arn("createModel"),
        "Parameters": {
            "ModelName.$": "$.extract.run_name",
            "ExecutionRoleArn": targets.role_arn,
            "EnableNetworkIsolation": True,
            "PrimaryContainer": {
                "Image": targets.image_uri,
                "Mode": "SingleModel",
                "ModelDataUrl.$": "$.training.model_artifacts",
                "Environment": dict(environment),
            },
        },
        "ResultSelector": {"model_arn.$": "$.ModelArn"},
        "ResultPath": "$.model",
    }


def transform_state(*, transform: TransformConfig) -> dict[str, Any]:
    """Return the ASL of the Batch Transform task (``createTransformJob.sync``).

    JSON Lines in and out, one record per line, several records per request; the output line
    is the input object joined with ``SageMakerOutput`` so the writer finds the ids.

    Args:
        transform: instances, payload and client settings.

    Returns:
        A Task state.
    """
    return {
        "Type": "Task",
        "Comment": "Score the extracted rows with the new model (.sync).",
        "Resource": integration_arn("createTransformJob.sync"),
        "Parameters": {
            "TransformJobName.$": "$.extract.run_name",
            "ModelName.$": "$.extract.run_name",
            "BatchStrategy": "MultiRecord",
            "MaxPayloadInMB": transform.max_payload_mb,
            "MaxConcurrentTransforms": transform.max_concurrent_transforms,
            "ModelClientConfig": {
                "InvocationsTimeoutInSeconds": transform.invocations_timeout_seconds,
                "InvocationsMaxRetries": transform.invocations_max_retries,
            },
            "TransformInput": {
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri.$": "$.extract.scoring_uri"}
                },
                "ContentType": CONTENT_TYPE,
                "SplitType": "Line",
                "CompressionType": "None",
            },
            "TransformOutput": {
                "S3OutputPath.$": "$.extract.predictions_uri",
                "Accept": CONTENT_TYPE,
                "AssembleWith": "Line",
            },
            "TransformResources": {
                "InstanceType": transform.instance_type,
                "InstanceCount": transform.instance_count,
            },
            "DataProcessing": {"InputFilter": "$", "JoinSource": "Input", "OutputFilter": "$"},
        },
        "ResultSelector": {
            "job_name.$": "$.TransformJobName",
            "output_uri.$": "$.TransformOutput.S3OutputPath",
        },
        "ResultPath": "$.transform",
    }
