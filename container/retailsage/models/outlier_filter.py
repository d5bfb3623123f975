"""Optional Isolation Forest filter of outlier customers before gap training.

Wholesale-like customers that order daily, or one-off customers with extreme baskets, pull a
squared or absolute loss towards behaviour the rest of the base never shows. The filter
summarises each customer of the *training window only* (mean of every numeric input and of the
target, plus the order count; all signed-log scaled), fits an Isolation Forest on those summaries
and drops every training row of the customers it flags. Prediction is never filtered.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from retailsage.models.tabular import TabularSpec

LOGGER = logging.getLogger(__name__)
CUSTOMER_COLUMN = "CustomerID"


def customer_summary(matrix: np.ndarray, target: np.ndarray, customers: pd.Series) -> np.ndarray:
    """Summarise rows per customer: mean of inputs and target, and order count (signed-log).

    Args:
        matrix: encoded inputs ``[n, f]`` (NaN allowed).
        target: the training target ``[n]``.
        customers: the customer key of each row.

    Returns:
        ``[n_customers, <= f + 2]`` in the order of ``pd.factorize(customers)``; columns that
        are missing for every customer or constant are dropped.
    """
    codes, _ = pd.factorize(customers)
    frame = pd.DataFrame(np.column_stack([matrix, target]))
    grouped = frame.groupby(codes, sort=True)
    summary = grouped.mean().to_numpy()
    counts = grouped.size().to_numpy(dtype=np.float64)[:, None]
    stacked = np.column_stack([summary, counts])
    observed = ~np.isnan(stacked).all(axis=0)
    stacked = stacked[:, observed]
    medians = np.nanmedian(stacked, axis=0)
    stacked = np.where(np.isnan(stacked), medians[None, :], stacked)
    logged = np.sign(stacked) * np.log1p(np.abs(stacked))
    return logged[:, logged.std(axis=0) > 0]


def inlier_mask(
    train: pd.DataFrame, spec: TabularSpec, target: str, *, contamination: float, seed: int
) -> np.ndarray:
    """Return a boolean mask of training rows to keep (False for rows of outlier customers).

    Args:
        train: training rows; grouped by ``CustomerID`` when present, else row by row.
        spec: the input spec, used to encode the rows.
        target: the target column.
        contamination: expected outlier fraction of customers, in (0, 0.5].
        seed: random state of the forest.

    Returns:
        A boolean array of length ``len(train)``.
    """
    matrix = spec.encode(train)
    y = train[target].to_numpy(dtype=np.float64)
    if CUSTOMER_COLUMN in train.columns:
        customers = train[CUSTOMER_COLUMN].astype("string").fillna("")
    else:
        customers = pd.Series(np.arange(len(train)))
    codes, _ = pd.factorize(customers)
    summary = customer_summary(matrix, y, customers)
    # imported here: training-only, so serving an XGBoost model never pays for scikit-learn
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(contamination=contamination, random_state=seed, n_jobs=1)
    outlier = forest.fit_predict(summary) == -1
    keep = ~outlier[codes]
    LOGGER.info(
        "outlier filter dropped %d of %d customers (%d rows)",
        int(outlier.sum()),
        len(outlier),
        int((~keep).sum()),
    )
    return np.asarray(keep)
