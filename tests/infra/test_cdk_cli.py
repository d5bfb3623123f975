"""The real CDK CLI path: `cdk synth` from infra/ with the pinned npm `aws-cdk` (make installs it).

Every CLI run loads tests/infra/support/netguard.js into its node processes, which records and
refuses any non-loopback connection: the runs must leave it empty (notices, telemetry and the
version check are off), and a control run with notices on shows the guard does catch the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import aws_cdk
import pytest
from infra.example import EXAMPLE_ACCOUNT, EXAMPLE_REGION, example_config
from infra.synth import CDK_JSON, FEATURE_FLAGS, read_synth

pytestmark = pytest.mark.xdist_group("cdk-cli")

INFRA = CDK_JSON.parent
CDK = INFRA / "node_modules" / ".bin" / "cdk"
GUARD = Path(__file__).parent / "support" / "netguard.js"
PINNED = json.loads((INFRA / "package.json").read_text())["devDependencies"]["aws-cdk"]
EXAMPLE = example_config()  # the CLI gets the reference config as context: compare with `synth`
assert EXAMPLE.endpoint is not None
IMAGE = EXAMPLE.image.uri
PREFIX = EXAMPLE.prefix
MODEL = EXAMPLE.endpoint.model_data_url
CONTEXT = {
    "prefix": PREFIX,
    "image_uri": IMAGE,
    "account": EXAMPLE_ACCOUNT,
    "region": EXAMPLE_REGION,
    "endpoint_model_data_url": MODEL,
    "notification_emails": ",".join(EXAMPLE.notification_emails),
}


def run_cdk(
    tmp: Path, *args: str, context: dict[str, str], offline: bool = True
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the pinned CLI from infra/ under the network guard; return the run and its log."""
    if not CDK.is_file():
        pytest.fail(f"{CDK} is missing: `make test` installs it (npm ci --prefix infra)")
    log = tmp / f"netguard-{len(list(tmp.glob('netguard-*')))}.log"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "CDK_")) and key != "NODE_OPTIONS"
    }
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        NODE_OPTIONS=f"--require {GUARD}",
        RETAILSAGE_NETGUARD_LOG=str(log),
        CDK_HOME=str(tmp / "cdk-home"),
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20,22",
        JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION="20,22,24,26",
    )
    flags = ["--notices"]
    if offline:
        env.update(CDK_DISABLE_CLI_TELEMETRY="true", CDK_DISABLE_VERSION_CHECK="1")
        flags = ["--no-notices"]
    command = [str(CDK), *args, *flags]
    for key, value in context.items():
        command += ["-c", f"retailsage:{key}={value}"]
    run = subprocess.run(
        command, cwd=INFRA, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    return run, log.read_text().splitlines() if log.is_file() else []


@pytest.fixture(scope="module")
def cli_synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """One `cdk synth` of all three stacks with context values."""
    tmp = tmp_path_factory.mktemp("cdk-cli")
    run, network = run_cdk(tmp, "synth", "--quiet", "-o", str(tmp / "out"), context=CONTEXT)
    assert run.returncode == 0, run.stderr[-3000:]
    return tmp / "out", network


def test_the_cli_is_pinned_exactly_and_locked():
    assert PINNED.count(".") == 2 and PINNED[0].isdigit(), "pin aws-cdk to one exact version"
    lock = json.loads((INFRA / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/aws-cdk"]["version"] == PINNED
    installed = json.loads((INFRA / "node_modules" / "aws-cdk" / "package.json").read_text())
    assert installed["version"] == PINNED


def test_cdk_json_carries_the_recommended_v2_flags_of_the_pinned_library():
    archive = next((Path(aws_cdk.__file__).parent / "_jsii").glob("aws-cdk-lib@*.jsii.tgz"))
    with tarfile.open(archive) as tgz:
        member = tgz.extractfile("package/recommended-feature-flags.json")
        assert member is not None
        recommended: dict[str, Any] = json.load(member)
    # Deliberately off: the stacks write partition-agnostic ARNs (`${AWS::Partition}`), which the
    # cdk-nag acknowledgments and the local pipeline's token resolver match.
    off = {"@aws-cdk/core:enablePartitionLiterals": False}
    assert dict(FEATURE_FLAGS) == {**recommended, **off}
    assert "@aws-cdk/core:enableStackNameDuplicates" not in FEATURE_FLAGS  # a CDK v1 flag


def test_cdk_synth_with_context_writes_the_three_stacks_nag_clean(cli_synth):
    outdir, network = cli_synth
    assert network == [], f"the CLI tried to reach the network: {network}"
    result = read_synth(outdir)
    assert set(result.templates) == {"Storage", "Pipeline", "Endpoint"}
    assert result.nag_findings == ()
    manifest = json.loads((outdir / "manifest.json").read_text())
    names = {
        artifact["properties"]["stackName"]
        for artifact in manifest["artifacts"].values()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert names == {f"{PREFIX}-storage", f"{PREFIX}-pipeline", f"{PREFIX}-endpoint"}
    pipeline = json.dumps(result.templates["Pipeline"])
    assert IMAGE in pipeline and f"{PREFIX}-sagemaker-execution" in pipeline
    assert f"{PREFIX}-adhoc-training" in pipeline
    assert MODEL.removeprefix("s3://").split("/", 1)[1] in json.dumps(result.templates["Endpoint"])
    assert "ml-platform@example.com" in pipeline


def test_the_cli_and_the_in_process_synthesis_agree(cli_synth, synth):
    """Same flags, same config -> the templates the tests and the local pipeline use."""
    outdir, _ = cli_synth
    cli = {name: without_cli_metadata(t) for name, t in read_synth(outdir).templates.items()}
    assert cli == {name: without_cli_metadata(t) for name, t in synth.templates.items()}


def without_cli_metadata(template: dict[str, Any]) -> dict[str, Any]:
    """Drop what only the CLI adds: path/asset metadata (``aws:*``) and the CDKMetadata resource."""
    document = json.loads(json.dumps(template))
    document["Resources"].pop("CDKMetadata", None)
    document.get("Conditions", {}).pop("CDKMetadataAvailable", None)
    if not document.get("Conditions", True):
        del document["Conditions"]
    for resource in document["Resources"].values():
        metadata = resource.get("Metadata", {})
        for key in [key for key in metadata if key.startswith("aws:")]:
            del metadata[key]
        if "Metadata" in resource and not metadata:
            del resource["Metadata"]
    return dict(document)


def test_mypy_skips_what_make_cdk_synth_leaves_in_infra_cdk_out(tmp_path, monkeypatch):
    # `make cdk-synth` writes infra/cdk.out with a staged copy of lambdas/ (the Lambda asset);
    # the CI gate `mypy container/retailsage lambdas infra` must not see it twice.
    from mypy.config_parser import parse_config_file
    from mypy.find_sources import create_source_list
    from mypy.options import Options

    options = Options()
    parse_config_file(
        options, lambda: None, str(INFRA.parent / "pyproject.toml"), sys.stdout, sys.stderr
    )
    for name in (
        "infra/stacks/stack.py",
        "infra/cdk.out/Pipeline-lambda-src/lambdas/__init__.py",
        "lambdas/__init__.py",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    monkeypatch.chdir(tmp_path)
    found = sorted(
        source.path or "" for source in create_source_list(["infra", "lambdas"], options)
    )
    assert found == ["infra/stacks/stack.py", "lambdas/__init__.py"]


def test_missing_context_names_the_flag_to_pass(tmp_path):
    context = {k: v for k, v in CONTEXT.items() if k != "image_uri"}
    run, network = run_cdk(tmp_path, "synth", "-o", str(tmp_path / "out"), context=context)
    assert run.returncode != 0
    assert "-c retailsage:image_uri=" in run.stderr
    assert "Traceback" not in run.stderr
    assert network == []


def test_the_guard_catches_the_cli_when_notices_are_on(tmp_path):
    """Control: without the offline settings the CLI fetches notices, and the guard sees it."""
    context = {k: v for k, v in CONTEXT.items() if k != "image_uri"}
    _, network = run_cdk(
        tmp_path, "synth", "-o", str(tmp_path / "out"), context=context, offline=False
    )
    assert any("connect" in line and ":443" in line for line in network), network
