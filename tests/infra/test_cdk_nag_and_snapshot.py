"""cdk-nag AwsSolutions over every stack, reasoned suppressions, and the ASL snapshot."""

import pytest
from infra.synth import PIPELINE_STACK, render_asl_snapshot

pytestmark = pytest.mark.xdist_group("cdk-synth")


def test_cdk_nag_reports_no_unacknowledged_findings(synth):
    assert set(synth.templates) == {"Storage", "Pipeline", "Endpoint"}
    assert synth.nag_errors == ()
    assert synth.nag_findings == ()


def test_every_suppression_carries_a_reason(synth):
    suppressions = [
        rule
        for template in synth.templates.values()
        for resource in template["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert len(suppressions) >= 10
    for rule in suppressions:
        assert rule["id"].startswith("AwsSolutions-")
        assert len(rule["reason"]) >= 40, rule


def test_asl_snapshot_is_current(synth, repo_root):
    snapshot = repo_root / "stepfunctions" / "pipeline.asl.json"
    assert snapshot.read_text() == render_asl_snapshot(synth.templates[PIPELINE_STACK]), (
        "stepfunctions/pipeline.asl.json is stale: run .venv/bin/python scripts/render_asl.py"
    )
