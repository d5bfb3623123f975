"""CDK entry point (``cdk synth`` / ``cdk deploy`` from ``infra/``): context -> typed config.

The only place that reads CDK context and the ``CDK_DEFAULT_*`` environment. Context keys
(``-c key=value`` or ``cdk.json``): ``retailsage:prefix``, ``retailsage:image_uri`` (required),
``retailsage:account``/``retailsage:region`` (default: the CLI's credentials),
``retailsage:schedule``, ``retailsage:schedule_enabled``, ``retailsage:notification_emails``
(comma-separated), ``retailsage:endpoint_model_data_url`` (deploys the endpoint stack when set),
``retailsage:execution_input`` (JSON of the scheduled execution input).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace

import aws_cdk as cdk

from infra.config import AppConfig, EndpointConfig, ImageConfig, ScheduleConfig
from infra.synth import build_app


def _context(app: cdk.App, key: str, default: str = "") -> str:
    """Return one ``retailsage:`` context value as text."""
    value = app.node.try_get_context(f"retailsage:{key}")
    return default if value is None else str(value)


def config_from_context(app: cdk.App) -> AppConfig:
    """Build the deployment configuration from CDK context and the CLI's environment.

    Args:
        app: the CDK app (its context holds ``cdk.json`` and ``-c`` values).

    Returns:
        The typed configuration.

    Raises:
        ValueError: a required value is missing or invalid.
    """
    image_uri = _context(app, "image_uri")
    if not image_uri:
        raise ValueError("set the image: cdk deploy -c retailsage:image_uri=<ecr image uri>")
    account = _context(app, "account", os.environ.get("CDK_DEFAULT_ACCOUNT", ""))
    region = _context(app, "region", os.environ.get("CDK_DEFAULT_REGION", ""))
    schedule = ScheduleConfig()
    execution_input = _context(app, "execution_input")
    schedule = replace(
        schedule,
        expression=_context(app, "schedule", schedule.expression),
        enabled=_context(app, "schedule_enabled", "true").lower() == "true",
        execution_input=json.loads(execution_input)
        if execution_input
        else schedule.execution_input,
    )
    model_data_url = _context(app, "endpoint_model_data_url")
    emails = tuple(e.strip() for e in _context(app, "notification_emails").split(",") if e.strip())
    return AppConfig(
        prefix=_context(app, "prefix", "retailsage-dev"),
        account=account,
        region=region,
        image=ImageConfig(image_uri),
        schedule=schedule,
        endpoint=EndpointConfig(model_data_url=model_data_url) if model_data_url else None,
        notification_emails=emails,
    )


def main() -> None:
    """Synthesize the app into the CLI's output directory."""
    app = cdk.App()
    build_app(config_from_context(app), app)
    app.synth()


if __name__ == "__main__":
    main()
