"""Cleaning rules for the Online Retail data, applied in one place.

Two consumers need different views of the same raw lines:

* customer-level modelling (days to next purchase) needs *purchases by known customers*:
  :func:`clean_transactions` applies every rule of :data:`CLEANING_RULES`;
* line-level anomaly detection must see the odd lines (cancellations, adjustments, zero
  prices, guests), so :func:`prepare_anomaly_lines` only drops exact duplicates.

Every rule is row-local except the duplicate rule, and exact duplicates pass or fail the
row-local rules together, so the rules commute: the cheap row filters run first and the
duplicate search runs on what is left. :func:`cleaning_report` counts rows per rule in the
documented order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retailsage.data.schema import (
    CUSTOMER_ID,
    INVOICE_NO,
    QUANTITY,
    STOCK_CODE,
    TRANSACTION_COLUMNS,
    UNIT_PRICE,
)

_DUPLICATE_KEYS = (INVOICE_NO, STOCK_CODE, QUANTITY, UNIT_PRICE)

CANCELLATION_PREFIX = "C"
ADJUSTMENT_PREFIX = "A"

CLEANING_RULES: tuple[str, ...] = (
    "duplicates: drop exact duplicate rows (all eight columns equal), keeping the first",
    "missing_customer: drop rows without CustomerID (guest checkouts)",
    "cancellations: drop cancellation lines (InvoiceNo starting with 'C')",
    "adjustments: drop accounting adjustments (InvoiceNo starting with 'A', e.g. bad debt)",
    "non_positive_quantity: drop rows with Quantity <= 0 (returns, stock write-offs)",
    "non_positive_price: drop rows with UnitPrice <= 0 (free items, manual fixes)",
)
"""The rules of :func:`clean_transactions`, in order, as ``key: description``."""

RULE_KEYS: tuple[str, ...] = tuple(rule.split(":", 1)[0] for rule in CLEANING_RULES)
"""The machine-readable rule names, as used by :func:`cleaning_report`."""


def _rule_masks(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Boolean masks of the rows each row-local rule drops (duplicates excluded)."""
    invoice = frame[INVOICE_NO].astype("string").str.upper()
    return {
        "missing_customer": frame[CUSTOMER_ID].isna().to_numpy(),
        "cancellations": invoice.str.startswith(CANCELLATION_PREFIX).fillna(False).to_numpy(bool),
        "adjustments": invoice.str.startswith(ADJUSTMENT_PREFIX).fillna(False).to_numpy(bool),
        "non_positive_quantity": (frame[QUANTITY] <= 0).to_numpy(),
        "non_positive_price": (frame[UNIT_PRICE] <= 0).to_numpy(),
    }


def _duplicated(frame: pd.DataFrame) -> np.ndarray:
    """Mask of exact duplicates of an earlier row over the transaction columns.

    Rows that differ on a few cheap key columns cannot be exact duplicates, so the full
    eight-column comparison runs only on the (few) rows sharing their keys with another row:
    about twice as fast as ``DataFrame.duplicated`` on all columns, with the same result.
    """
    candidate = frame.duplicated(subset=list(_DUPLICATE_KEYS), keep=False).to_numpy()
    duplicated = np.zeros(len(frame), dtype=bool)
    subset = frame.loc[candidate, list(TRANSACTION_COLUMNS)]
    duplicated[np.flatnonzero(candidate)] = subset.duplicated(keep="first").to_numpy()
    return duplicated


def clean_transactions(frame: pd.DataFrame) -> pd.DataFrame:
    """Apply every rule of :data:`CLEANING_RULES`: purchases by known customers only.

    Args:
        frame: typed transactions from :func:`retailsage.data.loader.load_transactions`
            (extra columns such as the label are carried along).

    Returns:
        The surviving rows in their original order, same columns and dtypes, fresh index.
    """
    masks = _rule_masks(frame)
    keep = ~np.logical_or.reduce(list(masks.values()))
    kept = frame.loc[keep]
    return kept.loc[~_duplicated(kept)].reset_index(drop=True)


def prepare_anomaly_lines(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop exact duplicate rows only, for line-level anomaly detection.

    Args:
        frame: typed transactions.

    Returns:
        The first occurrence of every distinct row, original order, fresh index.
    """
    return frame.loc[~_duplicated(frame)].reset_index(drop=True)


def cleaning_report(before: pd.DataFrame) -> dict[str, int]:
    """Count the rows each rule removes when applied in the documented order.

    Args:
        before: typed transactions, before cleaning.

    Returns:
        ``rows_in``, one count per rule key of :data:`CLEANING_RULES` (rows removed by that
        rule and not by an earlier one) and ``rows_out`` (equal to
        ``len(clean_transactions(before))``).
    """
    report = {"rows_in": len(before)}
    dropped = _duplicated(before)
    report["duplicates"] = int(dropped.sum())
    for key, mask in _rule_masks(before).items():
        new = mask & ~dropped
        report[key] = int(new.sum())
        dropped = dropped | new
    report["rows_out"] = int((~dropped).sum())
    return report
