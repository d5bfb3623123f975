"""cdk-nag (3.x) wiring: the AwsSolutions pack and reasoned acknowledgments.

cdk-nag 3 runs as a CDK policy-validation plugin (``Validations.of(app).add_plugins``), not as an
Aspect; an acknowledgment names one finding (``AwsSolutions-IAM5[Resource::...]``) and must say
why the finding is acceptable.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_nag_checks(app: cdk.App) -> None:
    """Run the AwsSolutions rule pack over every stack of ``app`` at synthesis.

    Args:
        app: the CDK app; acknowledgments are also written into the templates' metadata, so
            tests and reviewers can audit every suppression and its reason.
    """
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True)
    )


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on ``construct`` with a written reason.

    Args:
        construct: the construct (or stack) the finding is reported on.
        rule: the rule id, with the finding in brackets where the rule reports several
            (``AwsSolutions-IAM5[Resource::*]``).
        reason: why the finding is acceptable here (at least a sentence).

    Raises:
        ValueError: when the reason is too short to be one.
    """
    if len(reason.strip()) < 20:
        raise ValueError(f"acknowledgment of {rule} needs a real reason, got {reason!r}")
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))
