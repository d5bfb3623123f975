"""Model artifacts: ``manifest.json`` plus family-owned files; loading never executes code.

``save_model`` writes the family's files, then ``manifest.json`` naming the family, its format
version, its config, its input/output columns and the library versions it was saved with.
``load_model`` reads the manifest, refuses any pickle/joblib file in the directory, checks the
format version and the saving library versions, and dispatches to the family's ``load``.
"""

from __future__ import annotations

import dataclasses
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from retailsage import __version__
from retailsage.core.errors import ArtifactError
from retailsage.models.base import ModelFamily

MANIFEST = "manifest.json"
UNSAFE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".sav", ".dill", ".cloudpickle")
_TRACKED_LIBRARIES = ("numpy", "pandas", "scikit-learn", "xgboost-cpu", "xgboost", "torch")


def library_versions() -> dict[str, str]:
    """Return the versions of the libraries whose file formats an artifact depends on.

    Returns:
        Distribution name -> version, for the ones installed, plus python and retailsage.
    """
    versions = {"python": platform.python_version(), "retailsage": __version__}
    for dist in _TRACKED_LIBRARIES:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


def save_model(model: ModelFamily, model_dir: Path) -> dict[str, Any]:
    """Write a fitted model and its manifest into ``model_dir``.

    Args:
        model: a fitted family instance.
        model_dir: destination directory (created if needed).

    Returns:
        The manifest that was written.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    extra = model.save(model_dir)
    manifest: dict[str, Any] = {
        "family": model.name,
        "format_version": model.format_version,
        "config": dataclasses.asdict(model.config),
        "input_columns": list(model.input_columns),
        "output_columns": list(model.output_columns),
        "libraries": library_versions(),
        **extra,
    }
    (model_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


def record_training(model_dir: Path, training: dict[str, Any]) -> dict[str, Any]:
    """Record what the saved model was fitted on under the manifest's ``training`` key.

    Args:
        model_dir: the directory ``save_model`` wrote (its manifest is updated in place).
        training: JSON-able facts (``refit_full``, ``iterations``, snapshot window).

    Returns:
        The updated manifest.
    """
    path = model_dir / MANIFEST
    manifest: dict[str, Any] = json.loads(path.read_text())
    manifest["training"] = training
    path.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


def read_manifest(model_dir: Path) -> dict[str, Any]:
    """Read and minimally validate ``manifest.json``.

    Args:
        model_dir: the extracted model directory (``/opt/ml/model``).

    Returns:
        The manifest as a dict.

    Raises:
        ArtifactError: no manifest, not JSON, or a pickle-like file present in the directory.
    """
    unsafe = sorted(p.name for p in model_dir.rglob("*") if p.suffix.lower() in UNSAFE_SUFFIXES)
    if unsafe:
        raise ArtifactError(
            f"refusing to load model from {model_dir}: it contains pickle-like files "
            f"({', '.join(unsafe)}); retailsage artifacts never use pickle or joblib"
        )
    path = model_dir / MANIFEST
    if not path.is_file():
        raise ArtifactError(
            f"no {MANIFEST} in {model_dir}; is this a retailsage model artifact "
            "(model.tar.gz extracted into the model directory)?"
        )
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or "family" not in manifest:
        raise ArtifactError(f"{path} has no 'family' field")
    return manifest


def load_model(model_dir: Path) -> ModelFamily:
    """Load whatever family ``manifest.json`` names, safely.

    Args:
        model_dir: the extracted model directory.

    Returns:
        A fitted model ready to ``predict``.

    Raises:
        ArtifactError: unknown family, unsupported format version, or unreadable files.
    """
    from retailsage.models.registry import get_family

    manifest = read_manifest(model_dir)
    family_cls = get_family(str(manifest["family"]))
    version = manifest.get("format_version")
    if version != family_cls.format_version:
        raise ArtifactError(
            f"model in {model_dir} has format_version {version!r}; this image reads "
            f"{family_cls.name} format_version {family_cls.format_version}"
        )
    return family_cls.load(model_dir, manifest)
