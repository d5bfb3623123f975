"""Resolves CloudFormation tokens in synthesized templates to local names and ARNs.

CDK renders the state machine's ``DefinitionString`` as ``Fn::Join`` pieces holding ``Ref`` /
``Fn::GetAtt`` of the functions, roles, bucket and table. :class:`TemplateResolver` evaluates
those intrinsics the way CloudFormation would, with one local account and region, so the
definition that runs locally is the one that would be deployed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from retailsage.core.errors import UserError

NO_VALUE = object()
"""What ``{"Ref": "AWS::NoValue"}`` resolves to; dropped from the enclosing dict or list."""


@dataclass(frozen=True)
class LocalAccount:
    """The account, region and partition the local run pretends to be.

    Attributes:
        account_id: moto's default account.
        region: the region every client uses.
        partition: ``aws``.
        url_suffix: ``amazonaws.com``.
    """

    account_id: str = "123456789012"
    region: str = "us-east-1"
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"


# resource type -> (name property, max length, lower-case names, ARN pattern)
_NAMING: dict[str, tuple[str, int, bool, str]] = {
    "AWS::Lambda::Function": (
        "FunctionName", 64, False, "arn:{p}:lambda:{r}:{a}:function:{n}"
    ),
    "AWS::S3::Bucket": ("BucketName", 63, True, "arn:{p}:s3:::{n}"),
    "AWS::DynamoDB::Table": ("TableName", 255, False, "arn:{p}:dynamodb:{r}:{a}:table/{n}"),
    "AWS::DynamoDB::GlobalTable": (
        "TableName", 255, False, "arn:{p}:dynamodb:{r}:{a}:table/{n}"
    ),
    "AWS::IAM::Role": ("RoleName", 64, False, "arn:{p}:iam::{a}:role/{n}"),
    "AWS::SNS::Topic": ("TopicName", 256, False, "arn:{p}:sns:{r}:{a}:{n}"),
    "AWS::SQS::Queue": ("QueueName", 80, False, "arn:{p}:sqs:{r}:{a}:{n}"),
    "AWS::Logs::LogGroup": ("LogGroupName", 512, False, "arn:{p}:logs:{r}:{a}:log-group:{n}:*"),
    "AWS::StepFunctions::StateMachine": (
        "StateMachineName", 80, False, "arn:{p}:states:{r}:{a}:stateMachine:{n}"
    ),
    "AWS::KMS::Key": ("", 36, True, "arn:{p}:kms:{r}:{a}:key/{n}"),
}  # fmt: skip
_REF_IS_ARN = frozenset({"AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"})
_SUB_TOKEN = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateResolver:
    """Evaluates intrinsic functions over one or more synthesized stack templates."""

    def __init__(
        self, templates: Mapping[str, Mapping[str, Any]], account: LocalAccount | None = None
    ) -> None:
        """Index the templates.

        Args:
            templates: stack name -> CloudFormation template (as CDK synthesizes it).
            account: the local account and region; moto's defaults when omitted.
        """
        self.templates = dict(templates)
        self.account = account or LocalAccount()
        self._functions: dict[str, Callable[[str, Any], Any]] = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Join": self._join,
            "Fn::Sub": self._sub,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::ImportValue": self._import_value,
        }

    def resources(self, stack: str, type_name: str) -> dict[str, Mapping[str, Any]]:
        """Return one stack's resources of a type.

        Args:
            stack: the stack name.
            type_name: e.g. ``AWS::Lambda::Function``.

        Returns:
            logical id -> resource (``Type``, ``Properties``, ``Metadata``).
        """
        found = self.templates[stack].get("Resources", {})
        return {key: value for key, value in found.items() if value.get("Type") == type_name}

    def resolve(self, value: Any, stack: str) -> Any:
        """Evaluate every intrinsic function inside ``value``.

        Args:
            value: any part of a template.
            stack: the stack the value belongs to (``Ref`` targets are looked up there).

        Returns:
            The value with tokens replaced by local names, ARNs and strings.

        Raises:
            UserError: an unknown reference or an unsupported intrinsic.
        """
        if isinstance(value, list):
            items = [self.resolve(item, stack) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key in self._functions:
                return self._functions[key](stack, argument)
            if key.startswith("Fn::"):
                raise UserError(f"unsupported intrinsic function {key} in stack {stack}")
        resolved = {key: self.resolve(item, stack) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def name(self, stack: str, logical_id: str) -> str:
        """Return a resource's physical name: its explicit name property, else a stable one.

        Args:
            stack: the stack name.
            logical_id: the resource's logical id.

        Returns:
            The name CloudFormation would use (generated names: ``<stack>-<logical id>``).
        """
        resource = self._resource(stack, logical_id)
        prop, limit, lower, _ = _NAMING.get(resource["Type"], ("", 64, False, ""))
        explicit = resource.get("Properties", {}).get(prop) if prop else None
        if explicit is not None:
            return str(self.resolve(explicit, stack))
        if resource["Type"] == "AWS::KMS::Key":
            digest = hashlib.sha1(f"{stack}/{logical_id}".encode()).hexdigest()
            return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
        generated = f"{stack}-{logical_id}"
        return (generated.lower() if lower else generated)[:limit]

    def arn(self, stack: str, logical_id: str) -> str:
        """Return a resource's ARN in the local account.

        Args:
            stack: the stack name.
            logical_id: the resource's logical id.

        Returns:
            The ARN.
        """
        type_name = self._resource(stack, logical_id)["Type"]
        pattern = _NAMING.get(type_name, ("", 0, False, ""))[3]
        if not pattern:
            service = type_name.split("::")[1].lower()
            pattern = f"arn:{{p}}:{service}:{{r}}:{{a}}:{logical_id.lower()}/{{n}}"
        a = self.account
        return pattern.format(
            p=a.partition, r=a.region, a=a.account_id, n=self.name(stack, logical_id)
        )

    def state_machine_definition(self, stack: str, logical_id: str) -> dict[str, Any]:
        """Return a state machine's definition with every token resolved.

        Args:
            stack: the stack holding the ``AWS::StepFunctions::StateMachine``.
            logical_id: its logical id.

        Returns:
            The ASL document (``StartAt``, ``States``, ...).
        """
        props = self._resource(stack, logical_id).get("Properties", {})
        if "Definition" in props:
            text = json.dumps(self.resolve(props["Definition"], stack))
        else:
            text = str(self.resolve(props["DefinitionString"], stack))
        substitutions = self.resolve(props.get("DefinitionSubstitutions", {}), stack)
        for key, replacement in substitutions.items():
            text = text.replace("${" + key + "}", str(replacement))
        definition: dict[str, Any] = json.loads(text)
        return definition

    def _resource(self, stack: str, logical_id: str) -> Mapping[str, Any]:
        """Look up one resource or raise a UserError naming it."""
        resource = self.templates[stack].get("Resources", {}).get(logical_id)
        if resource is None:
            raise UserError(f"stack {stack} has no resource {logical_id!r}")
        return dict(resource)

    def _pseudo(self, stack: str, name: str) -> Any:
        """Resolve ``AWS::*`` pseudo parameters and template parameters (their defaults)."""
        a = self.account
        pseudo = {
            "AWS::Region": a.region,
            "AWS::AccountId": a.account_id,
            "AWS::Partition": a.partition,
            "AWS::URLSuffix": a.url_suffix,
            "AWS::StackName": stack,
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        parameter = self.templates[stack].get("Parameters", {}).get(name)
        if parameter is None or "Default" not in parameter:
            raise UserError(f"stack {stack}: cannot resolve Ref {name!r}")
        return parameter["Default"]

    def _ref(self, stack: str, name: str) -> Any:
        """``Ref``: a resource's name (ARN for topics and state machines) or a parameter."""
        resource = self.templates[stack].get("Resources", {}).get(name)
        if resource is None:
            return self._pseudo(stack, name)
        if resource["Type"] in _REF_IS_ARN:
            return self.arn(stack, name)
        return self.name(stack, name)

    def _get_att(self, stack: str, argument: Any) -> str:
        """``Fn::GetAtt``: ``Arn`` (and the name-valued attributes) of a resource."""
        logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
        if attribute.endswith("Arn"):
            return self.arn(stack, logical_id)
        if attribute in ("Name", "TopicName", "QueueName"):
            return self.name(stack, logical_id)
        if attribute in ("DomainName", "RegionalDomainName"):
            return f"{self.name(stack, logical_id)}.s3.{self.account.url_suffix}"
        raise UserError(f"stack {stack}: unsupported Fn::GetAtt {logical_id}.{attribute}")

    def _join(self, stack: str, argument: list[Any]) -> str:
        """``Fn::Join``: concatenate resolved parts."""
        separator, parts = argument
        return str(separator).join(str(part) for part in self.resolve(parts, stack))

    def _sub(self, stack: str, argument: Any) -> str:
        """``Fn::Sub``: ``${Name}`` / ``${Res.Attr}`` / ``${AWS::Region}`` substitution."""
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = self.resolve(variables, stack)

        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token in values:
                return str(values[token])
            if "." in token and not token.startswith("AWS::"):
                return self._get_att(stack, token)
            return str(self._ref(stack, token))

        return _SUB_TOKEN.sub(replace, text).replace("${!", "${")

    def _select(self, stack: str, argument: list[Any]) -> Any:
        """``Fn::Select``: one item of a resolved list."""
        index, items = argument
        return self.resolve(items, stack)[int(self.resolve(index, stack))]

    def _split(self, stack: str, argument: list[Any]) -> list[str]:
        """``Fn::Split``: split a resolved string."""
        separator, text = argument
        return str(self.resolve(text, stack)).split(separator)

    def _import_value(self, stack: str, argument: Any) -> Any:
        """``Fn::ImportValue``: the exporting stack's output value."""
        wanted = self.resolve(argument, stack)
        for other, template in self.templates.items():
            for output in template.get("Outputs", {}).values():
                export = output.get("Export", {}).get("Name")
                if export is not None and self.resolve(export, other) == wanted:
                    return self.resolve(output["Value"], other)
        raise UserError(f"stack {stack}: no stack exports {wanted!r}")
