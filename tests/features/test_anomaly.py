"""Transaction-level anomaly features: encodings, item-relative values, persistence."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from feature_frames import random_clean_lines, typed_lines

from retailsage.core.errors import ArtifactError, DataError, NotFittedError
from retailsage.features.anomaly import (
    ANOMALY_DISTANCE_COLUMNS,
    ANOMALY_FEATURE_COLUMNS,
    ANOMALY_ID_COLUMNS,
    AnomalyFeaturizer,
    is_transaction_frame,
    transaction_type,
)


@pytest.fixture
def lines() -> pd.DataFrame:
    """Random sales plus one cancellation, one adjustment and a postage-like code."""
    sales = random_clean_lines(400, 20, seed=11)
    odd = typed_lines(
        [
            ("C540001", "20001", "ITEM", -3, "2011-05-02 10:00", 2.0, "12001", "France"),
            (
                "A540002",
                "B",
                "Adjust bad debt",
                1,
                "2011-05-03 11:00",
                -500.0,
                None,
                "United Kingdom",
            ),
            ("540003", "post", "POSTAGE", 1, "2011-05-04 12:00", 18.0, "12002", "France"),
        ]
    )
    return pd.concat([sales, odd], ignore_index=True)


@pytest.fixture
def fitted(lines: pd.DataFrame) -> AnomalyFeaturizer:
    return AnomalyFeaturizer().fit(lines)


def test_transaction_type_and_frame_detection(lines: pd.DataFrame) -> None:
    kinds = transaction_type(lines)
    assert kinds.index.equals(lines.index)
    assert kinds.iloc[-3:].tolist() == ["cancellation", "adjustment", "sale"]
    assert (kinds.iloc[:-3] == "sale").all()
    assert is_transaction_frame(lines)
    assert not is_transaction_frame(lines.drop(columns="Country"))


def test_transform_shape_dtype_and_order(fitted: AnomalyFeaturizer, lines: pd.DataFrame) -> None:
    shuffled = lines.sample(frac=1.0, random_state=0)
    features = fitted.transform(shuffled)
    assert tuple(features.columns) == ANOMALY_FEATURE_COLUMNS
    assert features.index.equals(shuffled.index)
    assert (features.dtypes == np.float64).all()
    assert np.isfinite(features.to_numpy()).all()
    pd.testing.assert_frame_equal(features.sort_index(), fitted.transform(lines))
    assert set(ANOMALY_DISTANCE_COLUMNS).isdisjoint(ANOMALY_ID_COLUMNS)
    assert set(ANOMALY_DISTANCE_COLUMNS) | set(ANOMALY_ID_COLUMNS) == set(ANOMALY_FEATURE_COLUMNS)


def test_line_level_values(fitted: AnomalyFeaturizer, lines: pd.DataFrame) -> None:
    features = fitted.transform(lines)
    cancel, adjust, postage = (features.iloc[i] for i in (-3, -2, -1))
    assert cancel["quantity"] == pytest.approx(-np.log1p(3))
    assert cancel["abs_quantity"] == pytest.approx(np.log1p(3))
    assert cancel["total_amount"] == pytest.approx(-np.log1p(6))
    assert (cancel["is_cancellation"], cancel["transaction_type_id"]) == (1.0, 1.0)
    assert (adjust["is_adjustment"], adjust["transaction_type_id"]) == (1.0, 2.0)
    assert adjust["unit_price"] == pytest.approx(-np.log1p(500))
    assert adjust["customer_missing"] == 1.0 and cancel["customer_missing"] == 0.0
    assert postage["is_nonstandard_code"] == 1.0 and postage["item_category_id"] == 2.0
    assert cancel["item_category_id"] == 0.0
    assert (postage["hour"], postage["day_of_week"], postage["day_of_month"]) == (12.0, 2.0, 4.0)


def test_price_and_quantity_relative_to_item(
    fitted: AnomalyFeaturizer, lines: pd.DataFrame
) -> None:
    base = fitted.transform(lines)
    sale = lines.index[0]
    changed = lines.loc[[sale]].copy()
    changed["UnitPrice"] = changed["UnitPrice"] * 50
    changed["Quantity"] = changed["Quantity"] * 40
    after = fitted.transform(changed).iloc[0]
    before = base.loc[sale]
    price = float(lines.loc[sale, "UnitPrice"])
    expected_price = np.log(50 * price + 0.01) - np.log(price + 0.01)
    assert after["price_vs_item"] - before["price_vs_item"] == pytest.approx(expected_price)
    quantity = int(lines.loc[sale, "Quantity"])
    expected_quantity = np.log1p(40 * quantity) - np.log1p(quantity)
    assert after["quantity_vs_item"] - before["quantity_vs_item"] == pytest.approx(
        expected_quantity
    )
    assert after["price_vs_item_z"] > before["price_vs_item_z"] + 5
    assert after["item_id"] == before["item_id"] and after["item_popularity"] > 0


def test_unseen_item_and_country_map_to_unknown(fitted: AnomalyFeaturizer) -> None:
    new = typed_lines(
        [("540009", "99999X", "NEW", 2, "2011-06-01 03:00", 3.0, "12003", "Atlantis")]
    )
    row = fitted.transform(new).iloc[0]
    assert row["item_id"] == 0.0 and row["country_id"] == 0.0
    assert row["is_unknown_item"] == 1.0
    assert row["item_popularity"] == 0.0 and row["country_popularity"] == 0.0
    known = fitted.transform(random_clean_lines(50, 5, seed=2))
    assert (known["item_id"] > 0).all() and (known["is_unknown_item"] == 0).all()


def test_time_rarity_flags_hours_never_seen_at_fit() -> None:
    office = random_clean_lines(300, 10, seed=4)
    office["InvoiceDate"] = office["InvoiceDate"].dt.normalize() + pd.Timedelta(hours=10)
    featurizer = AnomalyFeaturizer().fit(office)
    night = office.iloc[:5].assign(
        InvoiceDate=office["InvoiceDate"].iloc[:5] - pd.Timedelta(hours=7)
    )
    usual = featurizer.transform(office)["time_rarity"]
    assert featurizer.transform(night)["time_rarity"].min() > usual.max() + 2.0


def test_stock_codes_are_matched_case_and_space_insensitively(
    fitted: AnomalyFeaturizer, lines: pd.DataFrame
) -> None:
    variant = lines.iloc[[-1]].assign(StockCode=pd.array([" POST "], dtype="string"))
    assert (
        fitted.transform(variant)["item_id"].iloc[0]
        == fitted.transform(lines)["item_id"].iloc[-1]
        > 0
    )


def test_round_trip_through_json_is_identical(
    fitted: AnomalyFeaturizer, lines: pd.DataFrame
) -> None:
    payload = json.loads(json.dumps(fitted.to_dict(), allow_nan=False))
    restored = AnomalyFeaturizer.from_dict(payload)
    probe = pd.concat([lines, random_clean_lines(100, 30, seed=5)], ignore_index=True)
    pd.testing.assert_frame_equal(restored.transform(probe), fitted.transform(probe))


def test_from_dict_rejects_bad_payloads(fitted: AnomalyFeaturizer) -> None:
    payload = fitted.to_dict()
    with pytest.raises(ArtifactError, match="format"):
        AnomalyFeaturizer.from_dict({**payload, "format_version": 99})
    with pytest.raises(ArtifactError, match="malformed"):
        AnomalyFeaturizer.from_dict({k: v for k, v in payload.items() if k != "items"})
    with pytest.raises(ArtifactError, match="inconsistent"):
        AnomalyFeaturizer.from_dict({**payload, "item_count": payload["item_count"][:-1]})


def test_not_fitted_and_bad_input(lines: pd.DataFrame) -> None:
    with pytest.raises(NotFittedError):
        AnomalyFeaturizer().transform(lines)
    with pytest.raises(NotFittedError):
        AnomalyFeaturizer().to_dict()
    with pytest.raises(DataError, match="StockCode"):
        AnomalyFeaturizer().fit(lines.drop(columns="StockCode"))
    with pytest.raises(DataError, match="empty"):
        AnomalyFeaturizer().fit(lines.iloc[:0])
    undated = lines.copy()
    undated.loc[undated.index[5], "InvoiceDate"] = pd.NaT
    with pytest.raises(DataError, match=r"InvoiceDate is missing in 1 line.*row 5"):
        AnomalyFeaturizer().fit(undated)


def test_customer_quantity_scale_learns_wholesale_habits() -> None:
    lines = random_clean_lines(600, 12, seed=8)
    wholesale = (lines["CustomerID"] == "12000").to_numpy()
    lines.loc[wholesale, "Quantity"] = lines.loc[wholesale, "Quantity"] * 60
    featurizer = AnomalyFeaturizer().fit(lines)
    features = featurizer.transform(lines)
    scale = features["customer_quantity_scale"]
    assert scale[wholesale].min() > scale[~wholesale].max() + 2.0
    relative = features["quantity_vs_customer"].abs()
    assert relative[wholesale].median() < features["quantity_vs_item"][wholesale].median() - 2.0
    stranger = lines.iloc[:1].assign(CustomerID=pd.array(["99999"], dtype="string"))
    anonymous = lines.iloc[:1].assign(CustomerID=pd.array([pd.NA], dtype="string"))
    for row in (stranger, anonymous):
        unknown = featurizer.transform(row).iloc[0]
        assert unknown["customer_quantity_scale"] == 0.0
        assert unknown["quantity_vs_customer"] == unknown["quantity_vs_item"]
