"""The numeric core of the PCA + KMeans detector: fit with scikit-learn, score with numpy.

The features are scaled, projected by a PCA, and clustered by KMeans once per cluster count
``k`` of a small ladder (``min_clusters`` .. ``n_clusters``). For one ``k`` (``x`` scaled, ``z``
its PCA projection, ``c`` the nearest *large* centroid of that clustering in PCA space):

* ``centroid_distance``: ``||z - c||``, the classic PCA+KMeans score. Blind to anything the
  kept components do not span, which is exactly where rare line types live.
* ``full_distance``: ``sqrt(||z - c||^2 + ||x - x_hat||^2)`` with ``x_hat`` the PCA
  reconstruction, i.e. the distance in the scaled feature space from ``x`` to the centroid
  lifted back into it. It adds the reconstruction error, so off-subspace outliers score high.
* ``cluster_normalized``: ``full_distance`` divided by the median training ``full_distance``
  of the rows nearest to ``c``, so tight clusters do not hide their outliers behind loose ones.

Cluster size (CBLOF-style): a cluster holding fewer than ``small_cluster_share`` times the
average share ``1/k`` of the training rows is *small*, and is not a model of normal data: rows
are measured against the nearest large cluster only. Otherwise a compact group of outliers wins
its own centroid and scores as normal (masking). Each ``k``'s score is divided by its median on
the training rows, and the final score is the maximum over the ``k`` values, so no single
choice of ``k`` has to fit both multi-modal data and small outlier groups.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

from retailsage.core.errors import DataError

_ARRAYS = (
    "center",
    "scale",
    "pca_mean",
    "components",
    "centroids",
    "cluster_group",
    "cluster_scale",
    "group_scale",
)
_LADDER = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768)


def cluster_counts(min_clusters: int, max_clusters: int) -> tuple[int, ...]:
    """Return the cluster counts the detector fits: a roughly geometric ladder, both ends kept.

    Args:
        min_clusters: the smallest ``k`` (capped at ``max_clusters``).
        max_clusters: the largest ``k``.

    Returns:
        Increasing distinct counts from ``min_clusters`` to ``max_clusters``.
    """
    min_clusters = min(min_clusters, max_clusters)
    inner = [k for k in _LADDER if min_clusters < k < max_clusters]
    return tuple(sorted({min_clusters, *inner, max_clusters}))


@dataclass(frozen=True)
class ProjectionModel:
    """Fitted scaler, PCA basis, large centroids and threshold, as plain float arrays.

    Attributes:
        center: per-feature centre subtracted before scaling.
        scale: per-feature divisor (never 0).
        pca_mean: PCA mean in the scaled space.
        components: PCA basis ``[p, f]`` (orthonormal rows).
        centroids: the large KMeans centroids of every ``k``, in PCA space ``[c, p]``, grouped
            by ``k`` in increasing order.
        cluster_group: index of each centroid's ``k`` (0 = smallest), non-decreasing ``[c]``.
        cluster_scale: per-centroid median training distance ``[c]``.
        group_scale: per-``k`` median training score ``[g]``.
        threshold: score above which a row is an anomaly.
        score_kind: the per-``k`` distance (see the module docstring).
        clip: scaled values are clipped to ``[-clip, clip]`` before the PCA (0: no clipping).
    """

    center: np.ndarray
    scale: np.ndarray
    pca_mean: np.ndarray
    components: np.ndarray
    centroids: np.ndarray
    cluster_group: np.ndarray
    cluster_scale: np.ndarray
    group_scale: np.ndarray
    threshold: float
    score_kind: str
    clip: float = 0.0

    def scaled(self, features: np.ndarray) -> np.ndarray:
        """Scale the raw features and clip them to ``+-clip`` (no clipping when ``clip`` is 0).

        Args:
            features: raw feature matrix ``[n, f]``.

        Returns:
            The scaled (and clipped) matrix, before the PCA centring.
        """
        scaled = (features - self.center) / self.scale
        return np.clip(scaled, -self.clip, self.clip) if self.clip > 0 else scaled

    def group_scores(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the un-normalised per-``k`` scores ``[n, g]`` and the nearest centroid per ``k``.

        Args:
            features: raw feature matrix ``[n, f]``.

        Returns:
            ``(scores, nearest)``; ``nearest`` indexes :attr:`centroids`.
        """
        near, resid, nearest = self.distances(features)
        return self.combine(near, resid, nearest, self.score_kind), nearest

    def distances(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the raw distance terms every score kind is built from.

        Args:
            features: raw feature matrix ``[n, f]``.

        Returns:
            ``(near, resid, nearest)``: the squared PCA-space distance to the nearest large
            centroid per ``k`` ``[n, g]``, the squared reconstruction error ``[n]``, and the
            index (into :attr:`centroids`) of that centroid ``[n, g]``.
        """
        centred = self.scaled(features) - self.pca_mean
        projected = centred @ self.components.T
        residual = centred - projected @ self.components
        squared = (
            np.einsum("ij,ij->i", projected, projected)[:, None]
            - 2.0 * (projected @ self.centroids.T)
            + np.einsum("ij,ij->i", self.centroids, self.centroids)[None, :]
        )
        resid = np.einsum("ij,ij->i", residual, residual)
        groups = self.cluster_group.astype(np.int64)
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        ends = np.r_[starts[1:], len(groups)]
        near = np.empty((len(features), len(starts)))
        nearest = np.empty((len(features), len(starts)), dtype=np.int64)
        rows = np.arange(len(features))
        for g, (start, end) in enumerate(zip(starts, ends, strict=True)):
            best = start + np.argmin(squared[:, start:end], axis=1)
            near[:, g] = np.maximum(squared[rows, best], 0.0)
            nearest[:, g] = best
        return near, resid, nearest

    def combine(
        self, near: np.ndarray, resid: np.ndarray, nearest: np.ndarray, kind: str
    ) -> np.ndarray:
        """Turn :meth:`distances` output into the per-``k`` scores of one score kind.

        Args:
            near: squared PCA-space distances ``[n, g]``.
            resid: squared reconstruction errors ``[n]``.
            nearest: nearest-centroid indices ``[n, g]``.
            kind: the score kind (see the module docstring).

        Returns:
            The un-normalised scores ``[n, g]``.
        """
        if kind == "centroid_distance":
            return np.asarray(np.sqrt(near))
        full = np.sqrt(near + resid[:, None])
        if kind == "full_distance":
            return np.asarray(full)
        return np.asarray(full / self.cluster_scale[nearest])

    def score(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (anomaly score, cluster id) per row.

        The score is the maximum over ``k`` of the per-``k`` score divided by its training
        median; the cluster id is the nearest large centroid of the largest ``k``, numbered
        within that clustering.

        Args:
            features: raw feature matrix ``[n, f]``.

        Returns:
            Two arrays of length ``n``.
        """
        scores, nearest = self.group_scores(features)
        combined = (scores / self.group_scale[None, :]).max(axis=1)
        last = nearest[:, -1]
        first_of_last = int(np.searchsorted(self.cluster_group, self.cluster_group[-1]))
        return combined, last - first_of_last

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays written to ``model.npz`` (all float64)."""
        return {name: np.asarray(getattr(self, name), dtype=np.float64) for name in _ARRAYS}

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], *, threshold: float, score_kind: str, clip: float
    ) -> ProjectionModel:
        """Rebuild from :meth:`arrays` output plus the manifest's threshold, score and clip.

        Args:
            arrays: name -> array as loaded from ``model.npz``.
            threshold: the stored threshold.
            score_kind: the stored score definition.
            clip: the stored clipping bound (the resolved ``clip_sigma``).

        Returns:
            The model.
        """
        values: dict[str, Any] = {name: arrays[name].astype(np.float64) for name in _ARRAYS}
        return cls(**values, threshold=threshold, score_kind=score_kind, clip=clip)


def _scaling(features: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (centre, scale): mean/std or median/IQR (std, then 1, where the IQR is 0)."""
    std = features.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    if kind == "standard":
        return features.mean(axis=0), std
    q25, median, q75 = np.quantile(features, [0.25, 0.5, 0.75], axis=0)
    iqr = (q75 - q25) / 1.349  # IQR of a standard normal, so both scalings agree on normal data
    return median, np.where(iqr > 0, iqr, std)


def large_clusters(labels: np.ndarray, k: int, share: float) -> np.ndarray:
    """Mark the clusters that hold at least ``share`` of the average cluster size.

    Args:
        labels: training cluster labels in ``[0, k)``.
        k: the number of clusters.
        share: the small-cluster share (0 marks every non-empty cluster large).

    Returns:
        A boolean mask of length ``k``; never all False (the biggest cluster is always large).
    """
    counts = np.bincount(labels, minlength=k)
    large = (counts > 0) & (counts >= share * len(labels) / k)
    large[int(np.argmax(counts))] = True
    return np.asarray(large)


def fit_projection(features: np.ndarray, config: Any, *, clip: float = 0.0) -> ProjectionModel:
    """Fit scaler, PCA and one KMeans per cluster count, then the scales and threshold.

    The KMeans fits see at most ``config.fit_sample_rows`` rows (:func:`fit_sample`); the
    scaler, PCA, medians and threshold see every row.

    Args:
        features: ``[n, f]`` finite float matrix.
        config: a :class:`~retailsage.models.pca_kmeans.PcaKmeansConfig`.
        clip: the resolved bound scaled values are clipped to (0: none).

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
    if clip > 0:
        scaled = np.clip(scaled, -clip, clip)
    n_components: float | int = config.n_components
    if n_components >= 1:
        n_components = int(min(n_components, n_features, n_rows))
    pca = PCA(n_components=n_components, svd_solver="full", random_state=config.seed)
    projected = pca.fit_transform(scaled)
    sample = projected[fit_sample(n_rows, config.fit_sample_rows, config.seed)]
    centroids: list[np.ndarray] = []
    groups: list[np.ndarray] = []
    for group, k in enumerate(cluster_counts(config.min_clusters, config.n_clusters)):
        k = min(k, len(sample))
        kmeans = KMeans(n_clusters=k, n_init=config.n_init, random_state=config.seed)
        labels = kmeans.fit_predict(sample)
        keep = large_clusters(labels, k, config.small_cluster_share)
        centroids.append(kmeans.cluster_centers_[keep])
        groups.append(np.full(int(keep.sum()), group, dtype=np.float64))
    stacked = np.concatenate(centroids)
    model = ProjectionModel(
        center=center,
        scale=scale,
        pca_mean=pca.mean_,
        components=pca.components_,
        centroids=stacked,
        cluster_group=np.concatenate(groups),
        cluster_scale=np.ones(len(stacked)),
        group_scale=np.ones(len(centroids)),
        threshold=0.0,
        score_kind=config.score,
        clip=clip,
    )
    # One distance pass over every training row; the medians and the threshold reuse it.
    near, resid, nearest = model.distances(features)
    full = model.combine(near, resid, nearest, "full_distance")
    cluster_scale = _cluster_medians(full, nearest, len(stacked))
    model = ProjectionModel(**{**model.__dict__, "cluster_scale": cluster_scale})
    per_group = model.combine(near, resid, nearest, config.score)
    group_scale = np.array([_median_or_one(per_group[:, g]) for g in range(per_group.shape[1])])
    scores = (per_group / group_scale[None, :]).max(axis=1)
    threshold = float(np.quantile(scores, 1.0 - config.contamination))
    return ProjectionModel(**{**model.__dict__, "group_scale": group_scale, "threshold": threshold})


def fit_sample(n_rows: int, max_rows: int, seed: int) -> np.ndarray:
    """Return the sorted row indices the KMeans fits use: all rows, or a seeded subsample.

    Args:
        n_rows: the number of training rows.
        max_rows: the most rows to keep (0: keep all).
        seed: the random seed (same seed, same rows).

    Returns:
        Increasing row indices, ``min(n_rows, max_rows)`` of them (``n_rows`` when 0).
    """
    if max_rows <= 0 or n_rows <= max_rows:
        return np.arange(n_rows)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_rows, size=max_rows, replace=False))


def _cluster_medians(full: np.ndarray, nearest: np.ndarray, n_centroids: int) -> np.ndarray:
    """Median ``full_distance`` of the training rows nearest to each centroid (1 if none)."""
    cluster_scale = np.ones(n_centroids)
    for g in range(full.shape[1]):
        order = np.argsort(nearest[:, g], kind="stable")
        ids = nearest[order, g]
        values = full[order, g]
        bounds = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1], True])
        for start, end in itertools.pairwise(bounds):
            cluster_scale[ids[start]] = _median_or_one(values[start:end])
    return cluster_scale


def _median_or_one(values: np.ndarray) -> float:
    """Median of the given distances, or 1 for an empty or zero-spread set."""
    if values.size == 0:
        return 1.0
    median = float(np.median(values))
    return median if median > 0 else 1.0
