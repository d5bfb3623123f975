"""The deployment the local run uses: the CDK app synthesized with a local configuration.

The ``infra`` package lives at the repository root (it is not part of the image), so this module
imports it from the source checkout that holds this package.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from retailsage.core.errors import UserError
from retailsage.pipeline.asl import LocalAccount, TemplateResolver

REPO_ROOT = Path(__file__).resolve().parents[3]
LOCAL_PREFIX = "retailsage-local"
LOCAL_IMAGE_TAG = "local"
_SOURCE_SUFFIXES = frozenset({".py", ".json", ".txt"})
PACKAGE_DIR = Path(__file__).resolve().parents[1]
# What the synthesized app depends on besides infra/, lambdas/ and the retailsage packages the
# Lambda asset ships (lambda_asset.RETAILSAGE_SUBPACKAGES): the modules infra imports.
_APP_MODULES = ("__init__.py", "py.typed", "train/metrics.py", "pipeline/states.py")


# jsii prints a 12-line banner (as raw bytes) when the Node.js running the CDK is end-of-life
# or untested; the Makefile exports these same values, so `retailsage pipeline run` reads like
# `make run`. A value already in the environment wins (set one empty to see the banner).
NODE_BANNER_SILENCE = {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20,22",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "20,22,24,26",
}


def quiet_node_version_banner() -> None:
    """Silence jsii's Node.js version banner as the Makefile does, unless the user set it."""
    for name, value in NODE_BANNER_SILENCE.items():
        os.environ.setdefault(name, value)


def import_infra(module: str) -> ModuleType:
    """Import a module of the source checkout's ``infra`` or ``lambdas`` package.

    Neither package is installed (they are not part of the image), so the checkout that holds
    this package goes on ``sys.path`` first; the installed ``retailsage`` command imports them
    this way.

    Args:
        module: e.g. ``infra.config`` or ``lambdas.write_predictions.records``.

    Returns:
        The module.

    Raises:
        UserError: not running from a source checkout that has the package.
    """
    package = module.partition(".")[0]
    if not (REPO_ROOT / package / "__init__.py").is_file():
        raise UserError(
            f"the local pipeline needs the source checkout's {package}/ (not at {REPO_ROOT})"
        )
    if str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))
    return importlib.import_module(module)


def local_config(account: LocalAccount) -> Any:
    """The ``infra.config.AppConfig`` of the local deployment (moto's account and region).

    Args:
        account: the local account and region.

    Returns:
        An ``AppConfig`` with the default sizing of every stack and a local image URI.
    """
    config = import_infra("infra.config")
    image = (
        f"{account.account_id}.dkr.ecr.{account.region}.amazonaws.com/retailsage:{LOCAL_IMAGE_TAG}"
    )
    return config.AppConfig(
        prefix=LOCAL_PREFIX,
        account=account.account_id,
        region=account.region,
        image=config.ImageConfig(uri=image),
    )


@dataclass(frozen=True)
class Deployment:
    """The synthesized app.

    Attributes:
        config: the ``AppConfig`` it was synthesized from.
        templates: stack name -> template.
        assembly_dir: the cloud assembly directory (Lambda code assets live there).
        resolver: resolves the templates' tokens in the local account.
        pipeline_stack: the stack holding the state machine.
        state_machine_id: the state machine's logical id.
    """

    config: Any
    templates: dict[str, dict[str, Any]]
    assembly_dir: Path
    resolver: TemplateResolver
    pipeline_stack: str
    state_machine_id: str

    def definition(self) -> dict[str, Any]:
        """The state machine definition exactly as deployed, tokens resolved.

        Returns:
            The ASL document.
        """
        return self.resolver.state_machine_definition(self.pipeline_stack, self.state_machine_id)


def source_fingerprint(config: Any) -> str:
    """Hash everything a synthesis depends on: the app's sources, CDK's version, the config.

    Args:
        config: the ``AppConfig`` to synthesize.

    Returns:
        A hex digest; equal digests synthesize identical assemblies.
    """
    digest = hashlib.sha256(repr(config).encode())
    digest.update(metadata.version("aws-cdk-lib").encode())
    shipped = import_infra("infra.stacks.constructs.lambda_asset").RETAILSAGE_SUBPACKAGES
    roots = [REPO_ROOT / "infra", REPO_ROOT / "lambdas", *(PACKAGE_DIR / p for p in shipped)]
    files: list[Path] = [PACKAGE_DIR / name for name in _APP_MODULES]
    for root in roots:
        files.extend(p for p in root.rglob("*") if p.suffix in _SOURCE_SUFFIXES)
    for path in sorted(
        p for p in files if "__pycache__" not in p.parts and "cdk.out" not in p.parts
    ):
        digest.update(path.relative_to(REPO_ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def synthesize(account: LocalAccount, cache_dir: Path) -> Deployment:
    """Synthesize the CDK app with the local configuration, reusing an identical earlier one.

    The first synthesis in a process costs seconds to tens of seconds (jsii loads the CDK), so
    the cloud assembly is kept under ``cache_dir/<fingerprint>/``; any change to the app's
    sources, the CDK version or the configuration gives a new fingerprint and a fresh synth.

    Args:
        account: the local account and region.
        cache_dir: where assemblies are kept.

    Returns:
        The deployment.

    Raises:
        UserError: the app has no state machine.
    """
    config = local_config(account)
    outdir = cache_dir / source_fingerprint(config)
    templates = _read_templates(outdir)
    if not templates:
        quiet_node_version_banner()
        synth = import_infra("infra.synth")
        shutil.rmtree(outdir, ignore_errors=True)  # an incomplete earlier attempt
        cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="synth-", dir=cache_dir))
        # cdk-nag is the infra tests' job; the local run needs only the templates.
        synth.synth_app(config, outdir=staging, nag=False)
        try:
            staging.rename(outdir)  # atomic: readers see a whole assembly or none
        except OSError:  # a concurrent run finished the same synthesis first
            shutil.rmtree(staging, ignore_errors=True)
        _prune(cache_dir, keep=outdir)
        templates = _read_templates(outdir)
    resolver = TemplateResolver(templates, account)
    for stack in templates:
        machines = resolver.resources(stack, "AWS::StepFunctions::StateMachine")
        if machines:
            return Deployment(
                config=config,
                templates=templates,
                assembly_dir=outdir,
                resolver=resolver,
                pipeline_stack=stack,
                state_machine_id=next(iter(machines)),
            )
    raise UserError("the synthesized app has no AWS::StepFunctions::StateMachine")


def _read_templates(outdir: Path) -> dict[str, dict[str, Any]]:
    """Read a cloud assembly's templates (stack artifact id -> template); empty if absent."""
    if not (outdir / "manifest.json").is_file():
        return {}
    return {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in sorted(outdir.glob("*.template.json"))
    }


def _prune(cache_dir: Path, keep: Path, newest: int = 3) -> None:
    """Delete all but the ``newest`` cached assemblies (always keeping ``keep``)."""
    cached = sorted(
        (p for p in cache_dir.iterdir() if p.is_dir() and not p.name.startswith("synth-")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in cached[newest:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
