"""The numeric core of the PCA + KMeans detector: fit with scikit-learn, score with numpy.

Scores (``x`` scaled, ``z`` its PCA projection, ``c`` the nearest centroid in PCA space):

* ``centroid_distance``: ``||z - c||``, the classic PCA+KMeans score. Blind to anything the
  kept components do not span, which is exactly where rare line types live.
* ``full_distance``: ``sqrt(||z - c||^2 + ||x - x_hat||^2)`` with ``x_hat`` the PCA
  reconstruction, i.e. the distance in the scaled feature space from ``x`` to the centroid
  lifted back into it. It adds the reconstruction error, so off-subspace outliers score high.
* ``cluster_normalized``: ``full_distance`` divided by the median training ``full_distance``
  of the row's cluster, so tight clusters do not hide their outliers behind loose ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

from retailsage.core.errors import DataError

_ARRAYS = ("center", "scale", "pca_mean", "components", "centroids", "cluster_scale")


@dataclass(frozen=True)
class ProjectionModel:
    """Fitted scaler, PCA basis, centroids and threshold, as plain float arrays.

    Attributes:
        center: per-feature centre subtracted before scaling.
        scale: per-feature divisor (never 0).
        pca_mean: PCA mean in the scaled space.
        components: PCA basis ``[k, f]`` (orthonormal rows).
        centroids: KMeans centroids in PCA space ``[n_clusters, k]``.
        cluster_scale: per-cluster median training distance ``[n_clusters]``.
        threshold: score above which a row is an anomaly.
        score_kind: the score definition (see the module docstring).
    """

    center: np.ndarray
    scale: np.ndarray
    pca_mean: np.ndarray
    components: np.ndarray
    centroids: np.ndarray
    cluster_scale: np.ndarray
    threshold: float
    score_kind: str

    def distances(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (centroid distance, full distance, nearest cluster) per row.

        Args:
            features: raw feature matrix ``[n, f]``.

        Returns:
            Three arrays of length ``n``.
        """
        centred = (features - self.center) / self.scale - self.pca_mean
        projected = centred @ self.components.T
        residual = centred - projected @ self.components
        cross = projected @ self.centroids.T
        squared = (
            np.einsum("ij,ij->i", projected, projected)[:, None]
            - 2.0 * cross
            + np.einsum("ij,ij->i", self.centroids, self.centroids)[None, :]
        )
        cluster = np.argmin(squared, axis=1)
        near = np.maximum(squared[np.arange(len(cluster)), cluster], 0.0)
        resid = np.einsum("ij,ij->i", residual, residual)
        return np.sqrt(near), np.sqrt(near + resid), cluster

    def score(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (anomaly score, cluster id) per row for ``score_kind``."""
        near, full, cluster = self.distances(features)
        return _combine(self.score_kind, near, full, cluster, self.cluster_scale), cluster

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays written to ``model.npz`` (all float64)."""
        return {name: np.asarray(getattr(self, name), dtype=np.float64) for name in _ARRAYS}

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], *, threshold: float, score_kind: str
    ) -> ProjectionModel:
        """Rebuild from :meth:`arrays` output plus the manifest's threshold and score.

        Args:
            arrays: name -> array as loaded from ``model.npz``.
            threshold: the stored threshold.
            score_kind: the stored score definition.

        Returns:
            The model.
        """
        values: dict[str, Any] = {name: arrays[name].astype(np.float64) for name in _ARRAYS}
        return cls(**values, threshold=threshold, score_kind=score_kind)


def _combine(
    kind: str, near: np.ndarray, full: np.ndarray, cluster: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """Turn the distances into the configured score."""
    if kind == "centroid_distance":
        return near
    if kind == "full_distance":
        return full
    return full / scale[cluster]


def _scaling(features: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (centre, scale): mean/std or median/IQR (std, then 1, where the IQR is 0)."""
    std = features.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    if kind == "standard":
        return features.mean(axis=0), std
    q25, median, q75 = np.quantile(features, [0.25, 0.5, 0.75], axis=0)
    iqr = (q75 - q25) / 1.349  # IQR of a standard normal, so both scalings agree on normal data
    return median, np.where(iqr > 0, iqr, std)


def fit_projection(features: np.ndarray, config: Any) -> ProjectionModel:
    """Fit scaler, PCA and KMeans on a training feature matrix, then the threshold.

    Args:
        features: ``[n, f]`` finite float matrix.
        config: a :class:`~retailsage.models.pca_kmeans.PcaKmeansConfig`.

    Returns:
        The fitted projection model.

    Raises:
        DataError: fewer than two rows.
    """
    n_rows, n_features = features.shape
    if n_rows < 2:
        raise DataError(f"anomaly training needs at least 2 rows, got {n_rows}")
    center, scale = _scaling(features, config.scaling)
    scaled = (features - center) / scale
    n_components: float | int = config.n_components
    if n_components >= 1:
        n_components = int(min(n_components, n_features, n_rows))
    pca = PCA(n_components=n_components, svd_solver="full", random_state=config.seed)
    projected = pca.fit_transform(scaled)
    n_clusters = min(config.n_clusters, n_rows)
    kmeans = KMeans(n_clusters=n_clusters, n_init=config.n_init, random_state=config.seed)
    kmeans.fit(projected)
    model = ProjectionModel(
        center=center,
        scale=scale,
        pca_mean=pca.mean_,
        components=pca.components_,
        centroids=kmeans.cluster_centers_,
        cluster_scale=np.ones(n_clusters),
        threshold=0.0,
        score_kind=config.score,
    )
    _, full, cluster = model.distances(features)
    medians = np.array([_median_or_one(full[cluster == k]) for k in range(n_clusters)])
    scores = _combine(config.score, *model.distances(features)[:2], cluster, medians)
    threshold = float(np.quantile(scores, 1.0 - config.contamination))
    return ProjectionModel(**{**model.__dict__, "cluster_scale": medians, "threshold": threshold})


def _median_or_one(values: np.ndarray) -> float:
    """Median of a cluster's distances, or 1 for an empty or zero-spread cluster."""
    if values.size == 0:
        return 1.0
    median = float(np.median(values))
    return median if median > 0 else 1.0
