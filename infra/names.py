"""Physical resource names, derived once from the deployment prefix, account and region.

Stacks, the Lambdas' environment, the state machine definition and the local pipeline all read
them from here (through ``AppConfig.names``), so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceNames:
    """Physical resource names; one place, so stacks, Lambdas and the local run agree.

    Attributes:
        prefix: the deployment prefix.
        account: the AWS account id.
        region: the AWS region.
    """

    prefix: str
    account: str
    region: str

    @property
    def data_bucket(self) -> str:
        """Globally unique data bucket name."""
        return f"{self.prefix}-data-{self.account}-{self.region}"

    @property
    def access_log_bucket(self) -> str:
        """Bucket receiving the data bucket's server access logs."""
        return f"{self.prefix}-access-logs-{self.account}-{self.region}"

    @property
    def predictions_table(self) -> str:
        """DynamoDB predictions table."""
        return f"{self.prefix}-predictions"

    @property
    def state_machine(self) -> str:
        """The pipeline state machine."""
        return f"{self.prefix}-pipeline"

    @property
    def extract_function(self) -> str:
        """The extract Lambda."""
        return f"{self.prefix}-extract"

    @property
    def write_function(self) -> str:
        """The write-predictions Lambda."""
        return f"{self.prefix}-write-predictions"

    @property
    def failure_topic(self) -> str:
        """The SNS failure topic."""
        return f"{self.prefix}-pipeline-failures"

    @property
    def schedule(self) -> str:
        """The EventBridge Scheduler schedule."""
        return f"{self.prefix}-nightly"

    @property
    def sagemaker_role(self) -> str:
        """The SageMaker execution role of training and transform jobs."""
        return f"{self.prefix}-sagemaker-execution"

    @property
    def adhoc_training_role(self) -> str:
        """The execution role of ad-hoc training jobs started from a workstation (SDK)."""
        return f"{self.prefix}-adhoc-training"

    @property
    def endpoint(self) -> str:
        """The real-time endpoint."""
        return f"{self.prefix}-endpoint"

    @property
    def job_prefix(self) -> str:
        """Prefix of training job, model and transform job names (the extract Lambda adds it)."""
        return self.prefix
