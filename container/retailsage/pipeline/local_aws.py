"""Starts moto with its Step Functions engine and creates the stacks' resources in it.

Resources are created from the synthesized templates themselves (names, key schemas, Lambda
handlers and environment variables, the state machine definition), so the local run uses the
same configuration the stacks deploy.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from retailsage.pipeline.asl import TemplateResolver
from retailsage.pipeline.lambda_runner import LambdaCode

MOTO_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
"""moto's own switches: run executions for real, and Lambda without Docker."""


@contextmanager
def moto_session() -> Iterator[None]:
    """Run the block against moto in this process (no network; boto3 calls are intercepted).

    Yields:
        Nothing; every boto3 client created inside the block talks to moto.
    """
    from moto import mock_aws

    with mock_aws(config=cast(Any, MOTO_CONFIG)):
        yield


@dataclass
class LocalResources:
    """What :func:`create_resources` made, by logical id.

    Attributes:
        buckets: logical id -> bucket name.
        tables: logical id -> table name.
        functions: logical id -> function name.
        lambda_code: function name -> its local code (for the Lambda runner).
        state_machines: logical id -> state machine ARN.
        definitions: logical id -> the resolved ASL definition.
    """

    buckets: dict[str, str] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)
    lambda_code: dict[str, LambdaCode] = field(default_factory=dict)
    state_machines: dict[str, str] = field(default_factory=dict)
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)


class ResourceFactory:
    """Creates every supported resource of the templates in moto, in dependency order."""

    def __init__(self, resolver: TemplateResolver, assembly_dir: Path, session: Any) -> None:
        """Bind the factory to the templates and a boto3 session.

        Args:
            resolver: resolves the templates' tokens.
            assembly_dir: the cloud assembly directory (Lambda assets live under it).
            session: a boto3 ``Session`` (created inside :func:`moto_session`).
        """
        self._resolver = resolver
        self._assembly_dir = assembly_dir
        self._region = resolver.account.region
        self._session = session
        self.resources = LocalResources()

    def create_all(self) -> LocalResources:
        """Create roles, buckets, tables, topics, functions and state machines.

        Returns:
            The names and ARNs created.
        """
        for stack in self._resolver.templates:
            self._each(stack, "AWS::IAM::Role", self._role)
            self._each(stack, "AWS::S3::Bucket", self._bucket)
            self._each(stack, "AWS::DynamoDB::Table", self._table)
            self._each(stack, "AWS::DynamoDB::GlobalTable", self._table)
            self._each(stack, "AWS::SNS::Topic", self._topic)
            self._each(stack, "AWS::SageMaker::ModelPackageGroup", self._model_package_group)
        for stack in self._resolver.templates:
            self._each(stack, "AWS::Lambda::Function", self._function)
        for stack in self._resolver.templates:
            self._each(stack, "AWS::StepFunctions::StateMachine", self._state_machine)
        return self.resources

    def _client(self, service: str) -> Any:
        """A client for one service in the local region."""
        return self._session.client(service, region_name=self._region)

    def _each(self, stack: str, type_name: str, create: Any) -> None:
        """Call ``create(stack, logical_id, resolved properties)`` per resource of a type."""
        for logical_id, resource in self._resolver.resources(stack, type_name).items():
            props = self._resolver.resolve(resource.get("Properties", {}), stack)
            create(stack, logical_id, props)

    def _role(self, stack: str, logical_id: str, props: dict[str, Any]) -> None:
        """Create an IAM role (policies are not enforced by moto, so only the trust policy)."""
        self._client("iam").create_role(
            RoleName=self._resolver.name(stack, logical_id),
            AssumeRolePolicyDocument=json.dumps(props.get("AssumeRolePolicyDocument", {})),
        )

    def _bucket(self, stack: str, logical_id: str, props: dict[str, Any]) -> None:
        """Create a bucket."""
        name = self._resolver.name(stack, logical_id)
        self._client("s3").create_bucket(Bucket=name)
        self.resources.buckets[logical_id] = name

    def _table(self, stack: str, logical_id: str, props: dict[str, Any]) -> None:
        """Create a DynamoDB table with the template's keys, attributes and indexes."""
        name = self._resolver.name(stack, logical_id)
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
        }
        if "ProvisionedThroughput" in props:
            request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        else:
            request["BillingMode"] = "PAY_PER_REQUEST"
        indexes = [
            {
                key: value
                for key, value in index.items()
                if key != "ContributorInsightsSpecification"
            }
            for index in props.get("GlobalSecondaryIndexes", [])
        ]
        if indexes:
            request["GlobalSecondaryIndexes"] = indexes
        self._client("dynamodb").create_table(**request)
        self.resources.tables[logical_id] = name

    def _topic(self, stack: str, logical_id: str, props: dict[str, Any]) -> None:
        """Create an SNS topic (the failure notification target)."""
        self._client("sns").create_topic(Name=self._resolver.name(stack, logical_id))

    def _model_package_group(self, stack: str, logical_id: str, props: dict[str, Any]) -> None:
        """Create the Model Registry group the Register Model state adds versions to."""
        self._client("sagemaker").create_model_package_group(
            ModelPackageGroupName=props["ModelPackageGroupName"],
            ModelPackageGroupDescription=props.get("ModelPackageGroupDescription", ""),
        )

    def _function(self, stack: str, logical_id: str, props: dict[str, Any]) -> None:
        """Create a Lambda function from its asset directory, handler and environment."""
        name = self._resolver.name(stack, logical_id)
        code_dir = self._asset_dir(stack, logical_id)
        if code_dir is None:
            return  # not ours (e.g. a CDK custom-resource provider); nothing invokes it locally
        request: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": props.get("Runtime", "python3.12"),
            "Role": props["Role"],
            "Handler": props["Handler"],
            "Code": {"ZipFile": _zip_directory(code_dir)},
            "Timeout": int(props.get("Timeout", 3)),
            "MemorySize": int(props.get("MemorySize", 128)),
        }
        if "Environment" in props:
            request["Environment"] = props["Environment"]
        self._client("lambda").create_function(**request)
        self.resources.functions[logical_id] = name
        self.resources.lambda_code[name] = LambdaCode(code_dir=code_dir, handler=props["Handler"])

    def _state_machine(self, stack: str, logical_id: str, props: dict[str, Any]) -> None:
        """Create a state machine from its fully resolved definition."""
        definition = self._resolver.state_machine_definition(stack, logical_id)
        arn = self._client("stepfunctions").create_state_machine(
            name=self._resolver.name(stack, logical_id),
            definition=json.dumps(definition),
            roleArn=props["RoleArn"],
        )["stateMachineArn"]
        self.resources.state_machines[logical_id] = arn
        self.resources.definitions[logical_id] = definition

    def _asset_dir(self, stack: str, logical_id: str) -> Path | None:
        """The staged Python code directory of a function, found through the asset manifests.

        ``Code.S3Key`` is the asset's object key; the cloud assembly's ``*.assets.json`` maps it
        to the directory CDK staged. Returns ``None`` for functions without such a directory or
        with a non-Python runtime (CDK's own custom-resource providers).
        """
        props = self._resolver.templates[stack]["Resources"][logical_id].get("Properties", {})
        key = self._resolver.resolve(props.get("Code", {}).get("S3Key"), stack)
        if not str(props.get("Runtime", "")).startswith("python") or key is None:
            return None
        source = asset_sources(self._assembly_dir).get(str(key))
        return source if source is not None and source.is_dir() else None


def _zip_directory(directory: Path) -> bytes:
    """Zip a directory's files (the deployment package moto stores for a function)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            if "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


def asset_sources(assembly_dir: Path) -> dict[str, Path]:
    """Map every file asset's object key to its staged source in the cloud assembly.

    Args:
        assembly_dir: the cloud assembly directory.

    Returns:
        object key (e.g. ``<hash>.zip``) -> the staged file or directory.
    """
    sources: dict[str, Path] = {}
    for manifest in sorted(assembly_dir.glob("*.assets.json")):
        for asset in json.loads(manifest.read_text()).get("files", {}).values():
            path = assembly_dir / asset["source"]["path"]
            for destination in asset.get("destinations", {}).values():
                sources[destination["objectKey"]] = path
    return sources
