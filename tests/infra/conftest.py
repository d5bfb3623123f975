"""One CDK synthesis (with cdk-nag) per test session, shared by every infra test."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

import pytest
from infra.config import AppConfig
from infra.example import example_config
from infra.synth import (
    ENDPOINT_STACK,
    PIPELINE_STACK,
    STORAGE_STACK,
    SynthResult,
    read_synth,
    render_definition,
    stable_placeholder,
    state_machine_definition,
    synth_app,
)


@pytest.fixture(scope="session")
def config() -> AppConfig:
    return example_config()


@pytest.fixture(scope="session")
def synth(config: AppConfig, tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """Synthesize once per test run, even when xdist splits the infra tests over workers.

    Workers of one run share the parent of their base temp dirs; the first one to take the lock
    synthesizes there and the others read the finished assembly back.
    """
    base = tmp_path_factory.getbasetemp()
    shared: Path = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    outdir, done = shared / "infra-cdk.out", shared / "infra-cdk.out.done"
    with (shared / "infra-cdk.out.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_file():
            return read_synth(outdir)
        result = synth_app(config, outdir=outdir)
        done.touch()
        return result


@pytest.fixture(scope="session")
def pipeline(synth: SynthResult) -> dict[str, Any]:
    return synth.templates[PIPELINE_STACK]


@pytest.fixture(scope="session")
def storage(synth: SynthResult) -> dict[str, Any]:
    return synth.templates[STORAGE_STACK]


@pytest.fixture(scope="session")
def endpoint(synth: SynthResult) -> dict[str, Any]:
    return synth.templates[ENDPOINT_STACK]


@pytest.fixture(scope="session")
def asl(pipeline: dict[str, Any]) -> dict[str, Any]:
    """The deployed definition with tokens as readable placeholders."""
    return render_definition(state_machine_definition(pipeline), stable_placeholder)


@pytest.fixture(scope="session")
def of_type() -> Any:
    """``of_type(template, "AWS::X::Y")`` -> {logical id: resource}."""

    def find(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}

    return find
