"""PCA + KMeans specifics: generic tables, id pass-through, thresholds, cluster size, text input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retailsage.core.errors import BadInput, DataError, HyperparameterError
from retailsage.core.hyperparameters import parse_hyperparameters
from retailsage.models.artifacts import load_model, save_model
from retailsage.models.pca_kmeans import TABLE_CLIP_SIGMA, PcaKmeansAnomaly, PcaKmeansConfig
from retailsage.models.pca_kmeans_math import cluster_counts, fit_sample


def _table(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 3))
    frame = pd.DataFrame(
        {
            "sku": [f"S{i:04d}" for i in range(n)],
            "a": base[:, 0],
            "b": base[:, 0] * 2 + 0.1 * base[:, 1],
            "c": base[:, 2],
            "d": rng.integers(0, 5, n),
        }
    )
    return frame


def test_generic_table_with_id_column(tmp_path: Path) -> None:
    train = _table()
    config = PcaKmeansConfig(id_column="sku", n_clusters=4, contamination=0.05, n_init=1)
    model = PcaKmeansAnomaly(config).fit(train)
    assert model.input_columns == ("a", "b", "c", "d")
    out = model.predict(train)
    assert list(out.columns) == ["sku", "anomaly_score", "is_anomaly", "cluster_id"]
    assert out["sku"].tolist() == train["sku"].tolist()
    assert out["is_anomaly"].mean() == pytest.approx(0.05, abs=0.01)
    outlier = train.iloc[:1].assign(a=8.0, b=-16.0)
    assert model.predict(outlier)["is_anomaly"].iloc[0] == 1
    save_model(model, tmp_path)
    pd.testing.assert_frame_equal(load_model(tmp_path).predict(train), out)


@pytest.mark.parametrize(
    ("score", "caught"),
    [("centroid_distance", False), ("full_distance", True), ("cluster_normalized", True)],
)
def test_reconstruction_error_catches_off_subspace_points(score: str, caught: bool) -> None:
    # a and b are collinear in training; breaking that relation leaves the PCA subspace,
    # which only scores that include the reconstruction error can see.
    train = _table().drop(columns=["sku"])
    model = PcaKmeansAnomaly(PcaKmeansConfig(score=score, n_components=2, n_init=1)).fit(train)
    scores = model.predict(pd.concat([train, train.iloc[:1].assign(a=2.5, b=-5.0)]))
    ranked_top = scores["anomaly_score"].iloc[-1] >= scores["anomaly_score"].quantile(0.99)
    assert ranked_top == caught


def test_n_components_fraction_and_count_are_capped() -> None:
    train = _table().drop(columns=["sku"])
    fraction = PcaKmeansAnomaly(PcaKmeansConfig(n_components=0.99, n_init=1)).fit(train)
    count = PcaKmeansAnomaly(PcaKmeansConfig(n_components=50, n_init=1)).fit(train)
    assert fraction.projection_ is not None and count.projection_ is not None
    assert 2 <= fraction.projection_.components.shape[0] <= 4
    assert count.projection_.components.shape[0] == 4


def test_table_rejects_text_and_missing_values() -> None:
    train = _table().drop(columns=["sku"])
    with pytest.raises(DataError, match="'d'"):
        PcaKmeansAnomaly().fit(train.assign(d=["x"] * len(train)))
    model = PcaKmeansAnomaly(PcaKmeansConfig(n_init=1)).fit(train)
    with pytest.raises(BadInput, match="'c'"):
        model.predict(train.assign(c=np.nan))


def test_transactions_given_as_text_score_like_typed_ones(transactions: pd.DataFrame) -> None:
    model = PcaKmeansAnomaly(PcaKmeansConfig(n_clusters=3, n_init=1)).fit(transactions)
    sample = transactions.iloc[:50]
    as_text = sample.astype(str).assign(InvoiceDate=sample["InvoiceDate"].astype(str))
    pd.testing.assert_frame_equal(model.predict(as_text), model.predict(sample))
    broken = as_text.assign(InvoiceDate="not a date")
    with pytest.raises(BadInput, match="InvoiceDate"):
        model.predict(broken)


def _masked_group(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Two broad blobs and a tight group of 30 outliers: a KMeans of 8 gives it a centroid."""
    rng = np.random.default_rng(seed)
    blobs = np.vstack([rng.normal(size=(500, 3)), rng.normal(size=(500, 3)) + 6.0])
    group = np.array([12.0, -6.0, 12.0]) + 0.05 * rng.normal(size=(30, 3))
    table = pd.DataFrame(np.vstack([blobs, group]), columns=["a", "b", "c"])
    return table, np.r_[np.zeros(1000), np.ones(30)]


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    positives = labels == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def test_small_cluster_share_unmasks_a_compact_outlier_group() -> None:
    table, labels = _masked_group()
    single_k = {"n_clusters": 8, "min_clusters": 8, "n_init": 1}
    masked = PcaKmeansAnomaly(PcaKmeansConfig(small_cluster_share=0.0, **single_k)).fit(table)
    sized = PcaKmeansAnomaly(PcaKmeansConfig(small_cluster_share=0.5, **single_k)).fit(table)
    assert _auc(labels, masked.predict(table)["anomaly_score"].to_numpy()) < 0.6
    assert _auc(labels, sized.predict(table)["anomaly_score"].to_numpy()) > 0.99
    defaults = PcaKmeansAnomaly(PcaKmeansConfig(n_init=1)).fit(table)
    assert _auc(labels, defaults.predict(table)["anomaly_score"].to_numpy()) > 0.99
    assert sized.projection_ is not None and len(sized.projection_.centroids) < 8


def test_cluster_ladder_and_cluster_ids() -> None:
    assert cluster_counts(2, 12) == (2, 3, 4, 6, 8, 12)
    assert cluster_counts(1, 5) == (1, 2, 3, 4, 5)
    assert cluster_counts(8, 8) == (8,)
    assert cluster_counts(4, 2) == (2,)
    table, _ = _masked_group()
    model = PcaKmeansAnomaly(PcaKmeansConfig(n_clusters=6, n_init=1)).fit(table)
    assert model.projection_ is not None
    assert model.projection_.group_scale.shape == (4,)  # k = 2, 3, 4, 6
    clusters = model.predict(table)["cluster_id"]
    assert clusters.min() >= 0 and clusters.max() < 6


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"small_cluster_share": "1.5"}, "small_cluster_share"),
        ({"small_cluster_share": "-0.1"}, "small_cluster_share"),
        ({"small_cluster_share": "half"}, "not a valid float"),
        ({"min_clusters": "0"}, "min_clusters"),
    ],
)
def test_size_hyperparameters_are_validated(raw: dict[str, str], message: str) -> None:
    with pytest.raises(HyperparameterError, match=message):
        parse_hyperparameters(PcaKmeansConfig, raw)
    parsed = parse_hyperparameters(PcaKmeansConfig, {"small_cluster_share": "0.25"})
    assert parsed.small_cluster_share == 0.25


def test_clip_sigma_defaults_by_input_mode(transactions: pd.DataFrame, tmp_path: Path) -> None:
    table = _table().drop(columns=["sku"])
    as_table = PcaKmeansAnomaly(PcaKmeansConfig(n_init=1, n_clusters=3)).fit(table)
    lines = PcaKmeansAnomaly(PcaKmeansConfig(n_init=1, n_clusters=3)).fit(transactions)
    unclipped = PcaKmeansAnomaly(PcaKmeansConfig(n_init=1, n_clusters=3, clip_sigma=0)).fit(table)
    assert as_table.projection_ is not None and as_table.projection_.clip == TABLE_CLIP_SIGMA
    assert lines.projection_ is not None and lines.projection_.clip == 0.0
    assert unclipped.projection_ is not None and unclipped.projection_.clip == 0.0
    far = table.iloc[[0, 0]].assign(c=[50.0, 500.0])  # beyond the clip: same scaled value
    scores = as_table.predict(far)["anomaly_score"].to_numpy()
    assert scores[0] == pytest.approx(scores[1])
    save_model(as_table, tmp_path)
    reloaded = load_model(tmp_path)
    pd.testing.assert_frame_equal(reloaded.predict(table), as_table.predict(table))


def test_fit_sample_is_seeded_bounded_and_all_rows_when_small() -> None:
    picked = fit_sample(1_000, 100, seed=3)
    assert len(picked) == 100
    assert len(np.unique(picked)) == 100
    assert np.all(np.diff(picked) > 0)
    assert picked.min() >= 0 and picked.max() < 1_000
    np.testing.assert_array_equal(picked, fit_sample(1_000, 100, seed=3))
    assert not np.array_equal(picked, fit_sample(1_000, 100, seed=4))
    np.testing.assert_array_equal(fit_sample(50, 100, seed=3), np.arange(50))
    np.testing.assert_array_equal(fit_sample(1_000, 0, seed=3), np.arange(1_000))


def test_subsampled_fit_is_deterministic_and_scores_every_row() -> None:
    train = _table(n=1_500).drop(columns=["sku"])
    config = PcaKmeansConfig(fit_sample_rows=300, n_clusters=4, n_init=1, contamination=0.05)
    first = PcaKmeansAnomaly(config).fit(train).predict(train)
    second = PcaKmeansAnomaly(config).fit(train).predict(train)
    pd.testing.assert_frame_equal(first, second)
    # The threshold is the quantile of every training row's score, not only the sample's.
    assert first["is_anomaly"].mean() == pytest.approx(0.05, abs=0.002)
    # Outliers outside the sample are still scored against the sample's clusters.
    outliers = train.iloc[:10].assign(a=np.linspace(4.0, 6.0, 10), b=np.linspace(-9.0, -12.0, 10))
    model = PcaKmeansAnomaly(config).fit(train)
    scored = model.predict(pd.concat([train, outliers], ignore_index=True))["anomaly_score"]
    assert (scored.iloc[-10:] > scored.iloc[:-10].quantile(0.99)).all()


def test_fit_sample_rows_at_least_the_row_count_changes_nothing() -> None:
    train = _table(n=400).drop(columns=["sku"])
    capped = PcaKmeansAnomaly(PcaKmeansConfig(fit_sample_rows=400, n_init=1)).fit(train)
    uncapped = PcaKmeansAnomaly(PcaKmeansConfig(fit_sample_rows=0, n_init=1)).fit(train)
    pd.testing.assert_frame_equal(capped.predict(train), uncapped.predict(train))


@pytest.mark.parametrize("value", ["-1", "2000000000", "many"])
def test_fit_sample_rows_is_range_checked(value: str) -> None:
    with pytest.raises(HyperparameterError, match=r"fit_sample_rows|not a valid"):
        parse_hyperparameters(PcaKmeansConfig, {"fit_sample_rows": value})
