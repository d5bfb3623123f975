"""PCA + KMeans specifics: generic numeric tables, id pass-through, thresholds, text input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retailsage.core.errors import BadInput, DataError
from retailsage.models.artifacts import load_model, save_model
from retailsage.models.pca_kmeans import PcaKmeansAnomaly, PcaKmeansConfig


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
