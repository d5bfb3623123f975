"""container/requirements.txt is an exact, complete lock that agrees with pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "container" / "requirements.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][A-Za-z0-9.]*)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def lock() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"not an exact pin: {line!r}"
        name = canonical(match[1])
        assert name not in pins, f"{name} pinned twice"
        pins[name] = match[2]
    return pins


def declared(extras: tuple[str, ...]) -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    return {canonical(r.split("==")[0]): r.split("==")[1] for r in requirements}


def test_every_image_dependency_of_pyproject_is_locked_at_its_version(
    lock: dict[str, str],
) -> None:
    for name, version in declared(("train", "serve")).items():
        assert lock.get(name) == version, f"{name}: pyproject {version}, lock {lock.get(name)}"


def test_lock_is_closed_over_requirements(lock: dict[str, str]) -> None:
    """Every locked distribution's own runtime requirements are in the lock too."""
    image_python = {"python_version": "3.11", "sys_platform": "linux", "platform_system": "Linux"}
    missing = set()
    for name in lock:
        for text in metadata.distribution(name).requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is not None and not marker.evaluate({**image_python, "extra": ""}):
                continue
            if canonical(requirement.name) not in lock:
                missing.add(f"{name} -> {requirement.name}")
    assert not missing, sorted(missing)


def test_image_leaves_out_infra_and_dev_tooling(lock: dict[str, str]) -> None:
    heavy = {"sagemaker", "boto3", "moto", "aws-cdk-lib", "pytest", "xgboost", "nvidia-nccl-cu12"}
    assert not heavy & set(lock)
