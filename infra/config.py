"""Typed configuration of every stack: frozen dataclasses passed as keyword-only props.

Only ``infra/app.py`` builds these from CDK context; stacks and constructs never read the
environment. Resource names are derived here once, so the Lambda environment variables, the state
machine definition and the local pipeline all see the same names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.names import ResourceNames

_ECR_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*)(?::(?P<tag>[\w.-]+)|@sha256:[0-9a-f]{64})$"
)
_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")


@dataclass(frozen=True)
class ImageConfig:
    """The one SageMaker image (train + serve), pushed to ECR before deploying.

    Attributes:
        uri: ``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`` (or ``@sha256:``).
    """

    uri: str

    def __post_init__(self) -> None:
        """Reject URIs that are not ECR image references (SageMaker pulls only from ECR)."""
        if _ECR_URI.match(self.uri) is None:
            raise ValueError(
                f"image uri {self.uri!r} is not an ECR image "
                "(<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>)"
            )

    def _part(self, name: str) -> str:
        match = _ECR_URI.match(self.uri)
        assert match is not None  # checked in __post_init__
        return match.group(name)

    @property
    def account(self) -> str:
        """The registry's account id."""
        return self._part("account")

    @property
    def region(self) -> str:
        """The registry's region."""
        return self._part("region")

    @property
    def repository(self) -> str:
        """The ECR repository name (scopes the image-pull permissions)."""
        return self._part("repository")


@dataclass(frozen=True)
class QualityGateRule:
    """How the quality gate judges one model type; the threshold comes from the execution input.

    Attributes:
        model_type: the ``model_type`` this rule applies to.
        metric_name: a name from ``retailsage.train.metrics.METRIC_NAMES``.
        higher_is_better: ``False``: pass when metric <= threshold; ``True``: when >= threshold.
    """

    model_type: str
    metric_name: str
    higher_is_better: bool = False


GATE_METRIC_NAME = "validation:improvement_over_best_baseline"
"""The derived metric every family prints (``retailsage.train.gate``): 1 - model error / error
of the best same-run baseline (MAE for the gap families; 1 - AUC on errors injected into the
evaluation lines for the anomaly detector, against a random ranking). The execution input's
``quality_threshold`` is the margin it must reach (0.05: 5 % less error than the best baseline).
"""

DEFAULT_GATES: tuple[QualityGateRule, ...] = tuple(
    QualityGateRule(model_type, GATE_METRIC_NAME, higher_is_better=True)
    for model_type in ("xgboost", "lstm", "pca_kmeans")
)


@dataclass(frozen=True)
class RegistryConfig:
    """The SageMaker Model Registry group accepted models are registered in.

    Attributes:
        approval_status: ``ModelApprovalStatus`` of a model that passed the gate: ``Approved``
            (the run goes on to score with it) or ``PendingManualApproval`` (registered for a
            human to approve; the run still scores with it, the endpoint deploys only approved
            packages).
    """

    approval_status: str = "Approved"

    def __post_init__(self) -> None:
        """Accept only the statuses CreateModelPackage takes for a new package."""
        if self.approval_status not in ("Approved", "PendingManualApproval"):
            raise ValueError("approval_status must be Approved or PendingManualApproval")


MAX_TRAINING_RUNTIME_SECONDS = 28 * 24 * 3600
"""``MaxRuntimeInSeconds`` above 28 days is rejected by CreateTrainingJob."""


@dataclass(frozen=True)
class TrainingConfig:
    """The SageMaker training job settings of the pipeline.

    Attributes:
        instance_type: e.g. ``ml.m5.xlarge``.
        instance_count: number of training instances. Above 1 the gap models train over all
            of them (XGBoost's collective / torch DDP) and the train channel is
            ``ShardedByS3Key`` over customer-bucket objects the extract step writes.
        volume_size_gb: EBS volume per instance.
        max_runtime_seconds: ``StoppingCondition.MaxRuntimeInSeconds`` (at most 28 days).
        use_spot: managed spot training (then ``max_wait_seconds`` and checkpoints apply).
        max_wait_seconds: ``StoppingCondition.MaxWaitTimeInSeconds`` (>= max runtime).
        network_isolation: ``EnableNetworkIsolation``: the training container gets no network
            access (SageMaker still stages channels, checkpoints and the model via S3); the
            image needs none, so it is on by default.
    """

    instance_type: str = "ml.m5.xlarge"
    instance_count: int = 1
    volume_size_gb: int = 30
    max_runtime_seconds: int = 3600
    use_spot: bool = True
    max_wait_seconds: int = 7200
    network_isolation: bool = True

    def __post_init__(self) -> None:
        """Validate counts, the runtime limit and the spot timing rule SageMaker enforces."""
        if self.instance_count < 1 or self.volume_size_gb < 1:
            raise ValueError("training instance_count and volume_size_gb must be >= 1")
        if not 1 <= self.max_runtime_seconds <= MAX_TRAINING_RUNTIME_SECONDS:
            raise ValueError(
                f"training max_runtime_seconds must be within 1..{MAX_TRAINING_RUNTIME_SECONDS}"
                " (SageMaker's 28-day limit)"
            )
        if self.use_spot and self.max_wait_seconds < self.max_runtime_seconds:
            raise ValueError("max_wait_seconds must be >= max_runtime_seconds for spot training")

    @property
    def distribution(self) -> str:
        """The train channel's ``S3DataDistributionType``: sharded when several instances."""
        return "ShardedByS3Key" if self.instance_count > 1 else "FullyReplicated"


@dataclass(frozen=True)
class FeaturizeConfig:
    """The optional ``Featurize Data`` SageMaker Processing job (inputs beyond the Lambda).

    The extract Lambda featurizes inputs up to ``lambda_max_input_mb``; larger ones (or any
    execution whose input says ``"featurize": "processing"``) are featurized by the image's
    ``featurize`` mode in a Processing job, which writes the same channel objects.

    Attributes:
        instance_type: e.g. ``ml.m5.4xlarge`` (featurization holds the input in memory).
        instance_count: Processing instances; the first featurizes, any other exits at once
            (featurization reads all customers together), so 1 is the useful value.
        volume_size_gb: EBS volume per instance (raw input + outputs).
        max_runtime_seconds: ``StoppingCondition.MaxRuntimeInSeconds``.
        lambda_max_input_mb: total source size above which ``auto`` picks the Processing job.
    """

    instance_type: str = "ml.m5.4xlarge"
    instance_count: int = 1
    volume_size_gb: int = 100
    max_runtime_seconds: int = 7200
    lambda_max_input_mb: int = 512

    def __post_init__(self) -> None:
        """Validate against the CreateProcessingJob limits."""
        if self.instance_count < 1 or self.volume_size_gb < 1:
            raise ValueError("featurize instance_count and volume_size_gb must be >= 1")
        if not 1 <= self.max_runtime_seconds <= 777600:
            raise ValueError("featurize max_runtime_seconds must be within 1..777600")
        if self.lambda_max_input_mb < 1:
            raise ValueError("featurize lambda_max_input_mb must be >= 1")


@dataclass(frozen=True)
class TransformConfig:
    """The Batch Transform settings.

    Attributes:
        instance_type: e.g. ``ml.m5.large``.
        instance_count: instances; the extract Lambda writes this many scoring objects.
        max_payload_mb: ``MaxPayloadInMB`` (1-100).
        max_concurrent_transforms: requests in flight per instance (= server workers).
        invocations_timeout_seconds: ``ModelClientConfig.InvocationsTimeoutInSeconds``.
        invocations_max_retries: ``ModelClientConfig.InvocationsMaxRetries``.
    """

    instance_type: str = "ml.m5.large"
    instance_count: int = 2
    max_payload_mb: int = 6
    max_concurrent_transforms: int = 2
    invocations_timeout_seconds: int = 600
    invocations_max_retries: int = 1

    def __post_init__(self) -> None:
        """Validate against the CreateTransformJob limits."""
        if self.instance_count < 1:
            raise ValueError("transform instance_count must be >= 1")
        if not 1 <= self.max_payload_mb <= 100:
            raise ValueError("max_payload_mb must be within 1..100")
        if self.max_payload_mb * self.max_concurrent_transforms > 100:
            raise ValueError("max_payload_mb * max_concurrent_transforms must be <= 100")
        if not 1 <= self.invocations_timeout_seconds <= 3600:
            raise ValueError("invocations_timeout_seconds must be within 1..3600")
        if not 0 <= self.invocations_max_retries <= 3:
            raise ValueError("invocations_max_retries must be within 0..3")


@dataclass(frozen=True)
class LambdaConfig:
    """Sizing and layers of the two Lambdas.

    The layer ARNs are the public AWS SDK for pandas and Powertools layers (account ids
    336392948345 and 017000801446); ``{region}`` is filled in at synth time. Check the current
    versions in their docs before deploying.

    Attributes:
        memory_mb: memory of both functions.
        timeout_seconds: timeout of both functions.
        ephemeral_storage_mb: ``/tmp`` size of the extract function (raw files land there).
        pandas_layer_arn: AWS SDK for pandas layer (numpy, pandas, pyarrow).
        powertools_layer_arn: Powertools for AWS Lambda (Python) v3 layer (with pydantic).
        log_retention_days: CloudWatch Logs retention of the function logs.
        write_concurrency: write-predictions invocations in flight (Distributed Map children).
    """

    memory_mb: int = 3008
    timeout_seconds: int = 900
    ephemeral_storage_mb: int = 4096
    pandas_layer_arn: str = "arn:aws:lambda:{region}:336392948345:layer:AWSSDKPandas-Python312:18"
    powertools_layer_arn: str = (
        "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:18"
    )
    log_retention_days: int = 30
    write_concurrency: int = 8


@dataclass(frozen=True)
class ScheduleConfig:
    """The EventBridge Scheduler schedule that starts the pipeline.

    Attributes:
        expression: a Scheduler expression, e.g. ``cron(0 2 * * ? *)`` or ``rate(1 day)``.
        timezone: IANA time zone the cron expression is read in.
        enabled: create the schedule enabled or disabled.
        execution_input: the JSON input every scheduled execution starts with.
        success_alarm_hours: alarm when no execution succeeded for this many hours (1..168;
            26 = a nightly run plus slack); ``None``, or a disabled schedule, means no alarm.
    """

    expression: str = "cron(0 2 * * ? *)"
    timezone: str = "UTC"
    enabled: bool = True
    execution_input: Mapping[str, Any] = field(
        default_factory=lambda: {
            "model_type": "xgboost",
            "hyperparameters": {"num_round": "300", "max_depth": "6"},
            "quality_threshold": 0.05,
            "source_prefix": "raw/online-retail/",
        }
    )
    success_alarm_hours: int | None = 26

    def __post_init__(self) -> None:
        """Reject expressions EventBridge Scheduler and alarm windows CloudWatch would not take."""
        if not re.match(r"^(cron|rate|at)\(.+\)$", self.expression):
            raise ValueError(
                f"schedule expression {self.expression!r} is not cron(), rate() or at()"
            )
        if self.success_alarm_hours is not None and not 1 <= self.success_alarm_hours <= 168:
            raise ValueError("success_alarm_hours must be within 1..168 (or None)")


@dataclass(frozen=True)
class EndpointConfig:
    """A real-time endpoint for one chosen model artifact.

    Attributes:
        model_data_url: ``s3://<data bucket>/models/.../model.tar.gz`` of a finished training job.
        instance_type: e.g. ``ml.m5.large``.
        initial_instance_count: instances at creation.
        min_capacity: autoscaling lower bound.
        max_capacity: autoscaling upper bound.
        target_invocations_per_instance: target of ``SageMakerVariantInvocationsPerInstance``
            (invocations per instance per minute).
        scale_in_cooldown_seconds: wait after a scale-in.
        scale_out_cooldown_seconds: wait after a scale-out.
        startup_health_check_timeout_seconds: time the container has to answer ``/ping``.
        model_data_download_timeout_seconds: time to download and unpack the artifact.
        model_server_workers: gunicorn workers (``MODEL_SERVER_WORKERS``).
        latency_alarm_p99_ms: p99 ``ModelLatency`` (ms) that alarms after 15 minutes.
    """

    model_data_url: str
    instance_type: str = "ml.m5.large"
    initial_instance_count: int = 1
    min_capacity: int = 1
    max_capacity: int = 4
    target_invocations_per_instance: float = 200.0
    scale_in_cooldown_seconds: int = 300
    scale_out_cooldown_seconds: int = 60
    startup_health_check_timeout_seconds: int = 600
    model_data_download_timeout_seconds: int = 600
    model_server_workers: int = 2
    latency_alarm_p99_ms: int = 1000

    def __post_init__(self) -> None:
        """Validate the artifact URI, capacity bounds and alarm threshold."""
        if not re.match(r"^s3://[a-z0-9.-]{3,63}/.+\.tar\.gz$", self.model_data_url):
            raise ValueError(f"model_data_url {self.model_data_url!r} is not an s3://.../*.tar.gz")
        if not 1 <= self.min_capacity <= self.initial_instance_count <= self.max_capacity:
            raise ValueError("need 1 <= min_capacity <= initial_instance_count <= max_capacity")
        if not 60 <= self.startup_health_check_timeout_seconds <= 3600:
            raise ValueError("startup_health_check_timeout_seconds must be within 60..3600")
        if self.latency_alarm_p99_ms < 1:
            raise ValueError("latency_alarm_p99_ms must be at least 1")


@dataclass(frozen=True)
class AppConfig:
    """Everything one deployment (environment) of retailsage needs.

    Attributes:
        prefix: lower-case name prefix of every resource, e.g. ``retailsage-dev``; SageMaker
            job, model and transform names start with it (IAM is scoped on it).
        account: the AWS account id (12 digits).
        region: the AWS region.
        image: the container image.
        training: training job settings.
        featurize: the optional Processing featurize job (large inputs).
        transform: Batch Transform settings.
        lambdas: Lambda sizing and layers.
        schedule: the nightly schedule.
        gates: quality-gate rules, one per model type.
        registry: the model package group accepted models are registered in.
        endpoint: the real-time endpoint, or ``None`` to deploy none.
        notification_emails: addresses subscribed to the failure topic.
        raw_prefix: where raw transaction files land in the data bucket.
        runs_prefix: where each run's channels, scoring rows and predictions go.
        models_prefix: training output (``model.tar.gz``).
        checkpoints_prefix: spot-training checkpoints.
        adhoc_prefix: output and checkpoints of ad-hoc training jobs (the ad-hoc role's only
            writable prefix; it also reads ``raw_prefix``).
        scoring_object_rows: target rows per scoring object (more objects than instances are
            written when the data is large, so no instance idles and objects stay small).
        log_retention_days: retention of the state machine's log group.
    """

    prefix: str
    account: str
    region: str
    image: ImageConfig
    training: TrainingConfig = field(default_factory=TrainingConfig)
    featurize: FeaturizeConfig = field(default_factory=FeaturizeConfig)
    transform: TransformConfig = field(default_factory=TransformConfig)
    lambdas: LambdaConfig = field(default_factory=LambdaConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    gates: tuple[QualityGateRule, ...] = DEFAULT_GATES
    registry: RegistryConfig = field(default_factory=RegistryConfig)
    endpoint: EndpointConfig | None = None
    notification_emails: tuple[str, ...] = ()
    raw_prefix: str = "raw/"
    runs_prefix: str = "runs/"
    models_prefix: str = "models/"
    checkpoints_prefix: str = "checkpoints/"
    adhoc_prefix: str = "adhoc/"
    scoring_object_rows: int = 50_000
    log_retention_days: int = 90

    def __post_init__(self) -> None:
        """Validate names early: they end up in ARNs, bucket names and IAM conditions."""
        if _NAME.match(self.prefix) is None:
            raise ValueError(
                f"prefix {self.prefix!r} must be 3-32 lower-case letters, digits or '-'"
            )
        if not re.match(r"^\d{12}$", self.account):
            raise ValueError(f"account {self.account!r} is not a 12-digit AWS account id")
        for name in (
            "raw_prefix",
            "runs_prefix",
            "models_prefix",
            "checkpoints_prefix",
            "adhoc_prefix",
        ):
            value = getattr(self, name)
            if not re.match(r"^[a-z0-9][a-z0-9/_-]*/$", value):
                raise ValueError(f"{name} {value!r} must be a relative key prefix ending in '/'")
        if len({gate.model_type for gate in self.gates}) != len(self.gates):
            raise ValueError("at most one quality-gate rule per model type")

    @property
    def names(self) -> ResourceNames:
        """The physical names derived from the prefix, account and region."""
        return ResourceNames(self.prefix, self.account, self.region)
