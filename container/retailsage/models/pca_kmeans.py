"""Unsupervised anomaly detection: scaler -> PCA -> KMeans, scored by distance to a centroid.

Two input modes, chosen at fit time and stored in the manifest:

* ``transactions``: raw Online Retail lines, featurized by the stored
  :class:`~retailsage.features.anomaly.AnomalyFeaturizer`;
* ``table``: any all-numeric feature table (an optional ``id_column`` is passed through).

The fitted parameters (scaler, PCA basis, centroids, per-cluster scales, threshold) are plain
float arrays in ``model.npz`` and are applied with numpy at predict time; scikit-learn is only
used to fit them. The score is described in :mod:`retailsage.models.pca_kmeans_math`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import pandas as pd

from retailsage.core.errors import ArtifactError, DataError, NotFittedError
from retailsage.core.hyperparameters import check_range
from retailsage.models.base import TrainingHooks
from retailsage.models.pca_kmeans_inputs import TABLE, AnomalyInputs
from retailsage.models.pca_kmeans_math import ProjectionModel, fit_projection

MODEL_FILE = "model.npz"
Score = Literal["centroid_distance", "full_distance", "cluster_normalized"]
Scaling = Literal["standard", "robust"]
TABLE_CLIP_SIGMA = 2.0
"""The clipping bound ``clip_sigma=None`` resolves to for a generic numeric table."""


@dataclass(frozen=True)
class PcaKmeansConfig:
    """Hyperparameters of the PCA + KMeans anomaly detector.

    Attributes:
        n_components: below 1, the fraction of variance the PCA keeps; from 1 up, a component
            count (capped at the number of features).
        n_clusters: the largest KMeans cluster count (capped at the number of training rows).
        min_clusters: the smallest cluster count; KMeans is fitted for a roughly geometric
            ladder of counts from ``min_clusters`` to ``n_clusters`` (1, 2, 3, 4, 6, 8, 12, ...)
            and the score is the maximum over them of each count's median-normalised score.
            ``min_clusters >= n_clusters`` fits a single clustering of ``n_clusters``.
        small_cluster_share: a cluster holding fewer than this fraction of the average cluster
            size (``n_rows / k``) is "small": it is not a model of normal rows, and every row
            is scored against the nearest large cluster (CBLOF-style). 0 treats every cluster as
            normal; 1 keeps only clusters at least of average size.
        contamination: expected anomaly fraction; the threshold is the training-score quantile
            ``1 - contamination``.
        score: ``centroid_distance`` (nearest large centroid in PCA space), ``full_distance``
            (that plus the PCA reconstruction error, i.e. distance in the scaled feature space)
            or ``cluster_normalized`` (full distance divided by that cluster's median training
            distance).
        scaling: ``standard`` (mean/std) or ``robust`` (median/IQR, std as fallback).
        clip_sigma: scaled values are clipped to ``+-clip_sigma`` before the PCA (fit and
            score), so one rare or heavy-tailed column cannot dominate the distance; 0 disables.
            ``None`` (default) picks by input mode: :data:`TABLE_CLIP_SIGMA` for a numeric
            table, 0 for transaction lines, whose featurizer already bounds its relative
            inputs and where the size of an extreme value (a x50 quantity, an off-hours
            timestamp) is the signal.
        n_init: KMeans restarts.
        fit_sample_rows: each KMeans is fitted on at most this many training rows, drawn
            uniformly without replacement with ``seed`` (one draw shared by every ``k``); the
            scaler, the PCA, the per-cluster and per-``k`` medians and the threshold still use
            every row. Bounds the training cost on large files (KMeans dominates it); 0 fits
            KMeans on all rows.
        id_column: a column passed through to the output and never used as a feature.
        seed: random seed of PCA and KMeans.
    """

    n_components: float = 0.9
    n_clusters: int = 12
    min_clusters: int = 2
    small_cluster_share: float = 0.5
    contamination: float = 0.02
    score: Score = "full_distance"
    scaling: Scaling = "standard"
    clip_sigma: float | None = None
    n_init: int = 3
    fit_sample_rows: int = 50_000
    id_column: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        """Range-check every value (raises HyperparameterError)."""
        check_range("n_components", self.n_components, low=0.0, high=10_000, low_open=True)
        if self.n_components > 1 and not float(self.n_components).is_integer():
            check_range("n_components", self.n_components, high=1.0)
        check_range("n_clusters", self.n_clusters, low=1, high=1_000)
        check_range("min_clusters", self.min_clusters, low=1, high=1_000)
        check_range("small_cluster_share", self.small_cluster_share, low=0.0, high=1.0)
        check_range("clip_sigma", self.clip_sigma, low=0.0, high=1_000.0)
        check_range("contamination", self.contamination, low=0.0, high=0.5, low_open=True)
        check_range("n_init", self.n_init, low=1, high=100)
        check_range("fit_sample_rows", self.fit_sample_rows, low=0, high=1_000_000_000)


class PcaKmeansAnomaly:
    """Anomaly detector returning ``anomaly_score``, ``is_anomaly`` and ``cluster_id``."""

    name: ClassVar[str] = "pca_kmeans"
    config_cls: ClassVar[type[Any]] = PcaKmeansConfig
    output_columns: ClassVar[tuple[str, ...]] = ("anomaly_score", "is_anomaly", "cluster_id")
    format_version: ClassVar[int] = 2

    def __init__(self, config: PcaKmeansConfig | None = None) -> None:
        """Store the config; nothing is fitted yet.

        Args:
            config: hyperparameters (defaults when omitted).
        """
        self.config = config or PcaKmeansConfig()
        self.inputs_: AnomalyInputs | None = None
        self.projection_: ProjectionModel | None = None

    def fit(
        self,
        train: pd.DataFrame,
        validation: pd.DataFrame | None = None,
        *,
        hooks: TrainingHooks | None = None,
    ) -> Self:
        """Fit on transaction lines or a numeric table; no labels are used.

        Args:
            train: raw transaction lines or an all-numeric table.
            validation: unused (the model is unsupervised); accepted for the common interface.
            hooks: unused (fitting is not iterative at the epoch level).

        Returns:
            ``self``.

        Raises:
            DataError: empty input, or a table with non-numeric or missing values.
        """
        if train.empty:
            raise DataError("anomaly training data is empty")
        inputs = AnomalyInputs.learn(train, id_column=self.config.id_column)
        features = inputs.features(train, error=DataError)
        self.projection_ = fit_projection(features, self.config, clip=self._clip(inputs))
        self.inputs_ = inputs
        return self

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Score rows: one output row per input row, same order.

        Args:
            frame: rows in the fitted input mode (transaction lines or the numeric table).

        Returns:
            ``[id_column,] anomaly_score, is_anomaly, cluster_id`` indexed like ``frame``.

        Raises:
            NotFittedError: before ``fit``/``load``.
            BadInput: a missing column or a value of the wrong type.
        """
        inputs, projection = self._fitted()
        scores, clusters = projection.score(inputs.features(frame))
        out = pd.DataFrame(
            {
                "anomaly_score": scores,
                "is_anomaly": (scores > projection.threshold).astype(np.int64),
                "cluster_id": clusters.astype(np.int64),
            },
            index=frame.index,
        )
        if self.config.id_column is not None and self.config.id_column in frame.columns:
            out.insert(0, self.config.id_column, frame[self.config.id_column].to_numpy())
        return out

    def save(self, model_dir: Path) -> dict[str, Any]:
        """Write ``model.npz`` (float arrays only) and return the input spec for the manifest.

        Args:
            model_dir: the destination directory.

        Returns:
            Extra manifest fields (``feature_spec``, ``threshold``, ``model_file``).
        """
        inputs, projection = self._fitted()
        arrays: dict[str, Any] = projection.arrays()
        np.savez(model_dir / MODEL_FILE, allow_pickle=False, **arrays)
        return {
            "feature_spec": inputs.to_dict(),
            "threshold": projection.threshold,
            "score": projection.score_kind,
            "clip": projection.clip,
            "model_file": MODEL_FILE,
        }

    @classmethod
    def load(cls, model_dir: Path, manifest: dict[str, Any]) -> Self:
        """Rebuild from ``model.npz`` (``allow_pickle=False``) and the manifest.

        Args:
            model_dir: the directory ``save`` wrote.
            manifest: the parsed ``manifest.json``.

        Returns:
            A fitted model.

        Raises:
            ArtifactError: the array file is missing or unreadable.
        """
        path = model_dir / MODEL_FILE
        if not path.is_file():
            raise ArtifactError(f"{path} is missing; the pca_kmeans artifact is incomplete")
        try:
            with np.load(path, allow_pickle=False) as arrays:
                loaded = {key: np.asarray(arrays[key]) for key in arrays.files}
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"cannot read {path}: {exc}") from exc
        model = cls(PcaKmeansConfig(**manifest["config"]))
        model.projection_ = ProjectionModel.from_arrays(
            loaded,
            threshold=float(manifest["threshold"]),
            score_kind=str(manifest["score"]),
            clip=float(manifest["clip"]),
        )
        model.inputs_ = AnomalyInputs.from_dict(manifest["feature_spec"])
        return model

    def features(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the feature matrix the detector scores (for comparisons on equal inputs).

        Args:
            frame: rows in the fitted input mode.

        Returns:
            ``[n, n_features]`` float64.

        Raises:
            NotFittedError: before ``fit``/``load``.
            BadInput: a missing column or a value of the wrong type.
        """
        inputs, _ = self._fitted()
        return inputs.features(frame)

    @property
    def input_columns(self) -> tuple[str, ...]:
        """Raw columns ``predict`` needs (the transaction schema, or the table's columns)."""
        inputs, _ = self._fitted()
        return inputs.input_columns

    def _clip(self, inputs: AnomalyInputs) -> float:
        """The clipping bound for this input mode (``clip_sigma``, or the mode's default)."""
        if self.config.clip_sigma is not None:
            return float(self.config.clip_sigma)
        return TABLE_CLIP_SIGMA if inputs.mode == TABLE else 0.0

    def _fitted(self) -> tuple[AnomalyInputs, ProjectionModel]:
        """Return the learned state or raise NotFittedError."""
        if self.inputs_ is None or self.projection_ is None:
            raise NotFittedError("PcaKmeansAnomaly is not fitted; call fit() or load() first")
        return self.inputs_, self.projection_
