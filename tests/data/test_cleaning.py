"""The cleaning rules, applied in one place, with per-rule counts."""

from __future__ import annotations

import pandas as pd

from retailsage.data.cleaning import (
    CLEANING_RULES,
    RULE_KEYS,
    clean_transactions,
    cleaning_report,
    prepare_anomaly_lines,
)
from retailsage.data.loader import load_transactions

BODY = (
    # kept: an ordinary purchase, and a second purchase of the same customer
    "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
    "536366,71053,WHITE METAL LANTERN,6,2010-12-01 08:28:00,3.39,17850,United Kingdom\n"
    # duplicate of the first row
    "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
    # guest
    "536367,84406B,CREAM CUPID HEARTS,8,2010-12-01 08:34:00,2.75,,United Kingdom\n"
    # cancellation (also negative quantity: counted once, under cancellations)
    "C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527,United Kingdom\n"
    # adjustment (negative price: counted under adjustments)
    "A563186,B,Adjust bad debt,1,2011-08-12 14:51:00,-11062.06,12346,United Kingdom\n"
    # stock write-off without cancellation prefix
    "536368,22139,,-12,2010-12-01 10:00:00,1.00,13047,United Kingdom\n"
    # zero price
    "536369,22140,FREE GIFT,1,2010-12-01 11:00:00,0.0,13047,France\n"
)


def test_rules_documented() -> None:
    assert RULE_KEYS == (
        "duplicates",
        "missing_customer",
        "cancellations",
        "adjustments",
        "non_positive_quantity",
        "non_positive_price",
    )
    assert all(": " in rule for rule in CLEANING_RULES)


def test_clean_keeps_only_purchases_by_known_customers(write_csv) -> None:
    raw = load_transactions(write_csv(BODY))
    clean = clean_transactions(raw)
    assert clean["InvoiceNo"].tolist() == ["536365", "536366"]
    assert clean.dtypes.equals(raw.dtypes)
    assert isinstance(clean.index, pd.RangeIndex)


def test_report_counts_each_rule_once(write_csv) -> None:
    raw = load_transactions(write_csv(BODY))
    assert cleaning_report(raw) == {
        "rows_in": 8,
        "duplicates": 1,
        "missing_customer": 1,
        "cancellations": 1,
        "adjustments": 1,
        "non_positive_quantity": 1,
        "non_positive_price": 1,
        "rows_out": 2,
    }


def test_report_matches_clean_on_generated_data(small_frame: pd.DataFrame) -> None:
    report = cleaning_report(small_frame)
    assert report["rows_out"] == len(clean_transactions(small_frame))
    assert report["rows_in"] - sum(report[key] for key in RULE_KEYS) == report["rows_out"]


def test_anomaly_lines_drop_duplicates_only(write_csv) -> None:
    raw = load_transactions(write_csv(BODY))
    lines = prepare_anomaly_lines(raw)
    assert len(lines) == 7
    assert lines["InvoiceNo"].str.startswith("C").sum() == 1
    assert lines["CustomerID"].isna().sum() == 1
    assert (lines["UnitPrice"] <= 0).sum() == 2


def test_clean_carries_the_label_column(small_frame: pd.DataFrame) -> None:
    clean = clean_transactions(small_frame)
    assert clean.columns.equals(small_frame.columns)
    assert not clean.duplicated(subset=list(small_frame.columns[:8])).any()
