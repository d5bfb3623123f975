"""Build the CDK app from a typed config and read back what it synthesizes.

``synth_app`` is what the tests, ``scripts/render_asl.py`` and the local pipeline use: it returns
the CloudFormation templates (and any cdk-nag findings) of exactly what ``cdk deploy`` would
deploy; :func:`state_machine_definition` pulls the state machine's ``DefinitionString`` out of
the pipeline template with its ``Fn::Join`` tokens intact, and :func:`render_definition` turns it
into ASL with a caller-chosen token resolver.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from infra.config import AppConfig
from infra.nag import add_nag_checks
from infra.stacks.endpoint_stack import EndpointStack
from infra.stacks.pipeline_stack import PipelineStack
from infra.stacks.storage_stack import StorageStack
from retailsage.train.metrics import METRIC_DEFINITIONS

STORAGE_STACK = "Storage"
PIPELINE_STACK = "Pipeline"
ENDPOINT_STACK = "Endpoint"
STATE_MACHINE_TYPE = "AWS::StepFunctions::StateMachine"

CDK_JSON = Path(__file__).with_name("cdk.json")
"""The CDK CLI's project file: its ``context`` holds the feature flags (the single source)."""


def feature_flags(cdk_json: Path = CDK_JSON) -> dict[str, Any]:
    """Return the CDK feature flags of ``cdk.json`` (its ``@aws-cdk...`` context keys).

    The CLI passes them to ``infra/app.py`` as context; :func:`build_app` sets the same values
    on in-process apps (tests, the local pipeline), so every synthesis sees one set of flags.

    Args:
        cdk_json: the project file.

    Returns:
        flag name -> value.
    """
    context: dict[str, Any] = json.loads(cdk_json.read_text()).get("context", {})
    return {key: value for key, value in context.items() if key.startswith("@aws-cdk")}


FEATURE_FLAGS: Mapping[str, Any] = feature_flags()
"""CDK feature flags the stacks are built with; set by :func:`build_app` before any stack."""


@dataclass(frozen=True)
class SynthResult:
    """What one synthesis produced.

    Attributes:
        outdir: the cloud assembly directory.
        templates: stack id (``Storage``, ``Pipeline``, ``Endpoint``) -> CloudFormation template.
        nag_findings: unacknowledged cdk-nag findings (``ruleName``, ``severity``, ``paths``).
    """

    outdir: Path
    templates: Mapping[str, dict[str, Any]]
    nag_findings: tuple[dict[str, Any], ...]

    @property
    def nag_errors(self) -> tuple[dict[str, Any], ...]:
        """The findings of severity ``error`` (a deployable app has none)."""
        return tuple(item for item in self.nag_findings if item["severity"] == "error")


def build_app(config: AppConfig, app: cdk.App, *, nag: bool = True) -> cdk.App:
    """Add every stack of ``config`` to ``app``.

    Args:
        config: the deployment configuration.
        app: the app (``infra/app.py`` passes the CLI's; :func:`synth_app` its own).
        nag: run the cdk-nag AwsSolutions checks at synthesis.

    Returns:
        ``app``, with the storage, pipeline and (when configured) endpoint stacks.
    """
    for key, value in FEATURE_FLAGS.items():
        app.node.set_context(key, value)
    environment = cdk.Environment(account=config.account, region=config.region)
    storage = StorageStack(
        app,
        STORAGE_STACK,
        config=config,
        env=environment,
        stack_name=f"{config.prefix}-storage",
        description="retailsage data bucket and predictions table (retained)",
    )
    pipeline = PipelineStack(
        app,
        PIPELINE_STACK,
        config=config,
        metric_definitions=METRIC_DEFINITIONS,
        env=environment,
        stack_name=f"{config.prefix}-pipeline",
        description="retailsage Step Functions pipeline, Lambdas and schedule",
    )
    pipeline.add_stack_dependency(storage, "the pipeline uses the storage stack's resources")
    if config.endpoint is not None:
        EndpointStack(
            app,
            ENDPOINT_STACK,
            config=config,
            endpoint=config.endpoint,
            env=environment,
            stack_name=f"{config.prefix}-endpoint",
            description="retailsage real-time endpoint",
        )
    if nag:
        add_nag_checks(app)
    return app


def synth_app(config: AppConfig, *, outdir: Path | None = None, nag: bool = True) -> SynthResult:
    """Synthesize the app in-process (no CDK CLI, no Docker) and read the templates back.

    Args:
        config: the deployment configuration.
        outdir: the cloud assembly directory; a fresh temporary directory when omitted.
        nag: run cdk-nag; its unacknowledged findings are returned, not raised.

    Returns:
        The templates and the cdk-nag findings.
    """
    target = Path(tempfile.mkdtemp(prefix="retailsage-cdk-")) if outdir is None else outdir
    app = build_app(config, cdk.App(outdir=str(target)), nag=nag)
    try:
        app.synth()
    except RuntimeError:
        # cdk-nag 3 reports through CDK's policy validation, which fails synth() after the
        # templates and the report are written; read both back instead of raising.
        if not (target / "validation-report.json").is_file():
            raise
    return read_synth(target)


def read_synth(outdir: Path) -> SynthResult:
    """Read the templates and cdk-nag findings of an existing cloud assembly.

    Args:
        outdir: a directory :func:`synth_app` (or ``cdk synth``) wrote.

    Returns:
        What that synthesis produced.
    """
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in sorted(outdir.glob("*.template.json"))
    }
    return SynthResult(outdir=outdir, templates=templates, nag_findings=_nag_findings(outdir))


def _nag_findings(outdir: Path) -> tuple[dict[str, Any], ...]:
    """Flatten CDK's validation report (absent when nothing was reported)."""
    report = outdir / "validation-report.json"
    if not report.is_file():
        return ()
    findings = []
    for plugin in json.loads(report.read_text()).get("pluginReports", []):
        for violation in plugin.get("violations", []):
            findings.append(
                {
                    "ruleName": violation["ruleName"],
                    "severity": violation.get("severity", "error"),
                    "description": violation.get("description", ""),
                    "paths": [c["constructPath"] for c in violation.get("violatingConstructs", [])],
                }
            )
    return tuple(findings)


def state_machine_definition(template: Mapping[str, Any]) -> dict[str, Any]:
    """Return the pipeline state machine's ``DefinitionString`` as synthesized.

    Args:
        template: the pipeline stack's CloudFormation template.

    Returns:
        ``{"Fn::Join": ["", [<json text>, {"Ref": ...}, {"Fn::GetAtt": ...}, ...]]}`` (or a
        plain string wrapped as ``{"Fn::Join": ["", [text]]}``), tokens untouched.

    Raises:
        ValueError: the template has no (or more than one) state machine.
    """
    machines = [
        resource["Properties"]["DefinitionString"]
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") == STATE_MACHINE_TYPE
    ]
    if len(machines) != 1:
        raise ValueError(f"expected one state machine in the template, found {len(machines)}")
    definition = machines[0]
    if isinstance(definition, str):
        return {"Fn::Join": ["", [definition]]}
    return dict(definition)


def render_definition(
    definition: Mapping[str, Any], resolve: Callable[[Mapping[str, Any]], str]
) -> dict[str, Any]:
    """Join a ``DefinitionString`` into ASL, rendering each token with ``resolve``.

    Args:
        definition: the value :func:`state_machine_definition` returns.
        resolve: maps one token (``{"Ref": "AWS::Partition"}``, ``{"Fn::GetAtt": [id, attr]}``)
            to the text to put in its place (an ARN, a name, or a placeholder).

    Returns:
        The ASL document.

    Raises:
        ValueError: the value is not a ``Fn::Join`` with an empty delimiter.
    """
    join = definition.get("Fn::Join")
    if not isinstance(join, list) or len(join) != 2 or join[0] != "":
        raise ValueError("definition is not an Fn::Join with an empty delimiter")
    parts = [part if isinstance(part, str) else resolve(part) for part in join[1]]
    document: dict[str, Any] = json.loads("".join(parts))
    return document


def placeholder(token: Mapping[str, Any]) -> str:
    """Render a token as a readable ``${...}`` placeholder (for the checked-in ASL snapshot).

    Args:
        token: a CloudFormation intrinsic such as ``{"Ref": "AWS::Partition"}``.

    Returns:
        ``${AWS::Partition}``, ``${ExtractFunctionABC123.Arn}``, ...

    Raises:
        ValueError: for an intrinsic other than ``Ref`` and ``Fn::GetAtt``.
    """
    if "Ref" in token:
        return "${" + str(token["Ref"]) + "}"
    if "Fn::GetAtt" in token:
        logical_id, attribute = token["Fn::GetAtt"]
        return "${" + f"{logical_id}.{attribute}" + "}"
    raise ValueError(f"unsupported token {token!r}")


_HASH_SUFFIX = re.compile(r"[0-9A-F]{8}(?=[.}])")


def stable_placeholder(token: Mapping[str, Any]) -> str:
    """Like :func:`placeholder`, without CDK's 8-character logical-id hash suffixes.

    Args:
        token: a CloudFormation intrinsic.

    Returns:
        e.g. ``${ExtractFunction.Arn}`` for ``{"Fn::GetAtt": ["ExtractFunction1A2B3C4D", "Arn"]}``.
    """
    return _HASH_SUFFIX.sub("", placeholder(token))


def render_asl_snapshot(pipeline_template: Mapping[str, Any]) -> str:
    """Return the text of ``stepfunctions/pipeline.asl.json`` for a pipeline template.

    Args:
        pipeline_template: the pipeline stack's template.

    Returns:
        Pretty-printed ASL with :func:`stable_placeholder` tokens and a trailing newline.
    """
    document = render_definition(state_machine_definition(pipeline_template), stable_placeholder)
    return json.dumps(document, indent=2, sort_keys=False) + "\n"
