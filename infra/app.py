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
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

import aws_cdk as cdk

from infra.config import AppConfig, EndpointConfig, ImageConfig, ScheduleConfig
from infra.synth import build_app

T = TypeVar("T")


class ContextError(ValueError):
    """A CDK context value is missing or invalid; the message names the ``-c`` to pass."""


def _context(app: cdk.App, key: str, default: str = "") -> str:
    """Return one ``retailsage:`` context value as text."""
    value = app.node.try_get_context(f"retailsage:{key}")
    return default if value is None else str(value)


def _missing(key: str, example: str, why: str = "") -> ContextError:
    """Return the error for a required context value that is not set."""
    hint = f" ({why})" if why else ""
    return ContextError(
        f"missing CDK context retailsage:{key}{hint}: pass -c retailsage:{key}={example} "
        "to cdk synth/deploy"
    )


def _checked(key: str, example: str, build: Callable[[], T]) -> T:
    """Run ``build``; turn its ``ValueError`` into one that names the ``-c`` to fix."""
    try:
        return build()
    except ValueError as error:
        raise ContextError(
            f"invalid CDK context retailsage:{key}: {error}; pass -c retailsage:{key}={example}"
        ) from error


def config_from_context(app: cdk.App) -> AppConfig:
    """Build the deployment configuration from CDK context and the CLI's environment.

    Args:
        app: the CDK app (its context holds ``cdk.json`` and ``-c`` values).

    Returns:
        The typed configuration.

    Raises:
        ContextError: a required value is missing or a value is invalid; the message names the
            ``-c retailsage:<key>=...`` to pass.
    """
    image_uri = _context(app, "image_uri")
    if not image_uri:
        raise _missing("image_uri", "<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>")
    image = _checked(
        "image_uri",
        "<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>",
        lambda: ImageConfig(image_uri),
    )
    account = _context(app, "account", os.environ.get("CDK_DEFAULT_ACCOUNT", ""))
    if not account:
        raise _missing("account", "<12-digit account id>", "no AWS credentials to default from")
    if not account.isdigit() or len(account) != 12:
        raise ContextError(
            f"invalid CDK context retailsage:account: {account!r} is not a 12-digit AWS account "
            "id; pass -c retailsage:account=<12-digit account id>"
        )
    region = _context(app, "region", os.environ.get("CDK_DEFAULT_REGION", ""))
    if not region:
        raise _missing("region", "<region, e.g. us-east-1>", "no AWS region to default from")
    execution_input = _context(app, "execution_input")
    schedule = _checked(
        "schedule",
        "'cron(0 2 * * ? *)'",
        lambda: replace(
            ScheduleConfig(),
            expression=_context(app, "schedule", ScheduleConfig().expression),
            enabled=_context(app, "schedule_enabled", "true").lower() == "true",
        ),
    )
    if execution_input:
        schedule = _checked(
            "execution_input",
            "'<json object>'",
            lambda: replace(schedule, execution_input=json.loads(execution_input)),
        )
    model_data_url = _context(app, "endpoint_model_data_url")
    endpoint = (
        _checked(
            "endpoint_model_data_url",
            "s3://<bucket>/models/<run>/output/model.tar.gz",
            lambda: EndpointConfig(model_data_url=model_data_url),
        )
        if model_data_url
        else None
    )
    emails = tuple(e.strip() for e in _context(app, "notification_emails").split(",") if e.strip())
    prefix = _context(app, "prefix", "retailsage-dev")
    return _checked(
        "prefix",
        "<3-32 lower-case letters, digits or '-'>",
        lambda: AppConfig(
            prefix=prefix,
            account=account,
            region=region,
            image=image,
            schedule=schedule,
            endpoint=endpoint,
            notification_emails=emails,
        ),
    )


def main() -> None:
    """Synthesize the app into the CLI's output directory.

    A missing or invalid context value ends the process with exit status 1 and one line on
    stderr naming the ``-c`` to pass (no Python traceback in the CLI's output).
    """
    app = cdk.App()
    try:
        config = config_from_context(app)
    except ContextError as error:
        sys.stderr.write(f"retailsage: {error}\n")
        raise SystemExit(1) from None
    build_app(config, app)
    app.synth()


if __name__ == "__main__":
    main()
