"""The reference configuration: the tests, the ASL snapshot and ``scripts/render_asl.py`` use it."""

from __future__ import annotations

from infra.config import AppConfig, EndpointConfig, ImageConfig
from infra.names import ResourceNames

EXAMPLE_ACCOUNT = "123456789012"
EXAMPLE_REGION = "us-east-1"


def example_config(*, with_endpoint: bool = True) -> AppConfig:
    """Return the reference configuration (tests, the ASL snapshot, the local pipeline).

    Args:
        with_endpoint: include the real-time endpoint stack.

    Returns:
        A complete configuration for the placeholder account ``123456789012`` in us-east-1.
    """
    prefix = "retailsage-dev"
    names = ResourceNames(prefix, EXAMPLE_ACCOUNT, EXAMPLE_REGION)
    endpoint = EndpointConfig(
        model_data_url=f"s3://{names.data_bucket}/models/{prefix}-example/output/model.tar.gz"
    )
    return AppConfig(
        prefix=prefix,
        account=EXAMPLE_ACCOUNT,
        region=EXAMPLE_REGION,
        image=ImageConfig(
            f"{EXAMPLE_ACCOUNT}.dkr.ecr.{EXAMPLE_REGION}.amazonaws.com/retailsage:0.1.0"
        ),
        endpoint=endpoint if with_endpoint else None,
        notification_emails=("ml-platform@example.com",),
    )
