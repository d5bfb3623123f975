"""Training statistics taken over every host's rows (multi-host jobs), not one host's.

A gap family learns a few things from all of its training rows before it fits: the category
codes (ordered by frequency), the recency reference date (the newest order), the summed sample
weight (XGBoost's leaf floor), the covariate and target scalers (LSTM), and per-epoch
validation errors. On a multi-host job each host holds only its own customers, so each of
these is reduced over the :class:`~retailsage.core.collective.Collective`; on a single host
every function here calls the single-host code unchanged, so one-host results stay bit-identical.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from retailsage.core.collective import (
    Collective,
    allgather_array,
    allgather_json,
    any_host,
    global_max,
    global_min,
    global_sum,
    is_distributed,
)
from retailsage.core.errors import AlgorithmError
from retailsage.features.gap import AS_OF_DATE, ORDER_DATE, TARGET
from retailsage.models.gap_common import regression_metrics
from retailsage.models.tabular import TabularSpec


def learn_spec(
    frame: pd.DataFrame, target: str, exclude: tuple[str, ...], collective: Collective
) -> TabularSpec:
    """Learn the input spec, with category codes ordered by the frequency over all hosts.

    Args:
        frame: this host's training rows.
        target: the target column.
        exclude: input columns the model ignores.
        collective: the training hosts.

    Returns:
        The same spec on every host.
    """
    spec = TabularSpec.learn(frame, target, exclude)
    if not is_distributed(collective):
        return spec
    local = {
        name: {str(k): int(v) for k, v in frame[name].astype("string").value_counts().items()}
        for name in sorted(spec.categories)
    }
    merged: dict[str, Counter[str]] = {name: Counter() for name in local}
    for counts in allgather_json(collective, local):
        for name, values in counts.items():
            merged.setdefault(name, Counter()).update(values)
    categories = {
        name: tuple(sorted(counts, key=lambda value: (-counts[value], value)))
        for name, counts in merged.items()
    }
    return TabularSpec(columns=spec.columns, categories=categories, excluded=spec.excluded)


def newest_order(rows: pd.DataFrame, collective: Collective) -> pd.Timestamp | None:
    """The newest ``as_of_date`` (snapshots) or ``order_date`` over all hosts (recency reference).

    Args:
        rows: this host's training rows.
        collective: the training hosts.

    Returns:
        The newest order date, or ``None`` when no host has an ``order_date`` column.
    """
    local = -np.inf  # whole seconds: exact in float64, unlike nanoseconds
    column = AS_OF_DATE if AS_OF_DATE in rows.columns else ORDER_DATE  # as recency_weights
    if column in rows.columns and len(rows):
        local = float(pd.to_datetime(rows[column]).max().value // 10**9)
    newest = float(global_max(collective, [local])[0])
    return None if not np.isfinite(newest) else pd.Timestamp(int(newest), unit="s")


def total(values: np.ndarray, collective: Collective) -> float:
    """Sum of ``values`` over every host.

    Args:
        values: this host's values.
        collective: the training hosts.

    Returns:
        The sum.
    """
    if not is_distributed(collective):
        return float(np.sum(values))
    return float(global_sum(collective, [float(np.sum(values, dtype=np.float64))])[0])


def mean_std(values: np.ndarray, collective: Collective) -> tuple[np.ndarray, np.ndarray]:
    """Column means and population standard deviations over every host's rows (two passes).

    Args:
        values: this host's ``[n, k]`` (or ``[n]``) float values.
        collective: the training hosts.

    Returns:
        ``(mean, std)`` shaped like one row.
    """
    data = np.asarray(values, dtype=np.float64)
    if not is_distributed(collective):
        return data.mean(axis=0), data.std(axis=0)
    count = float(global_sum(collective, [len(data)])[0])
    mean = global_sum(collective, data.sum(axis=0)) / max(count, 1.0)
    squares = global_sum(collective, ((data - mean) ** 2).sum(axis=0))
    return mean, np.sqrt(squares / max(count, 1.0))


def shared_validation(
    validation: pd.DataFrame | None, train: pd.DataFrame, collective: Collective
) -> pd.DataFrame | None:
    """This host's observed validation rows, or an empty frame when another host has some.

    Hosts hold different customers, so one host may have no validation rows while another has
    many; collective training needs every host to build the same evaluation sets.

    Args:
        validation: this host's validation rows, or ``None``.
        train: this host's training rows (their columns shape an empty frame).
        collective: the training hosts.

    Returns:
        Rows with an observed target (possibly none), or ``None`` when no host has any.
    """
    rows = None
    if validation is not None and TARGET in validation.columns:
        values = pd.to_numeric(validation[TARGET], errors="coerce").to_numpy(dtype=np.float64)
        rows = validation.loc[~np.isnan(values)]
    if not any_host(collective, rows is not None and len(rows) > 0):
        return None
    return rows if rows is not None else train.iloc[:0]


def regression_errors(
    y_true: np.ndarray, y_pred: np.ndarray, collective: Collective
) -> dict[str, float]:
    """MAE and RMSE over every host's validation rows (what early stopping compares).

    Args:
        y_true: this host's targets.
        y_pred: this host's predictions.
        collective: the training hosts.

    Returns:
        ``{"mae", "rmse"}``; NaN when no host has a validation row.
    """
    if not is_distributed(collective):
        return regression_metrics(y_true, y_pred)
    error = np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)
    sums = global_sum(collective, [np.abs(error).sum(), (error * error).sum(), float(error.size)])
    if sums[2] == 0:
        return {"mae": float("nan"), "rmse": float("nan")}
    return {"mae": float(sums[0] / sums[2]), "rmse": float(np.sqrt(sums[1] / sums[2]))}


def require_same(value: float, collective: Collective, what: str) -> None:
    """Raise unless every host holds the same ``value`` (e.g. the resumed checkpoint round).

    Args:
        value: this host's value.
        collective: the training hosts.
        what: what the value is, for the message.

    Raises:
        AlgorithmError: the hosts disagree.
    """
    if not is_distributed(collective):
        return
    low = float(global_min(collective, [value])[0])
    high = float(global_max(collective, [value])[0])
    if low != high:
        raise AlgorithmError(
            f"the training hosts disagree on {what} ({low:g} vs {high:g}); every host must "
            "start from the same checkpoint directory content (SageMaker copies the checkpoint "
            "S3 prefix to every host)"
        )


def weighted_median(values: np.ndarray, weights: np.ndarray, collective: Collective) -> float:
    """The lower weighted median over every host's rows: an actual value of ``values``.

    Args:
        values: this host's values.
        weights: their non-negative weights.
        collective: the training hosts (a single host by default).

    Returns:
        The smallest value whose cumulative weight reaches half the total (0.0 without rows).
    """
    pairs = np.column_stack([values, weights]).astype(np.float64).reshape(-1, 2)
    if is_distributed(collective):
        pairs = allgather_array(collective, pairs)
    if len(pairs) == 0:
        return 0.0
    order = np.argsort(pairs[:, 0], kind="stable")
    cumulative = np.cumsum(pairs[order, 1])
    index = int(np.searchsorted(cumulative, 0.5 * cumulative[-1], side="left"))
    return float(pairs[order[min(index, len(order) - 1)], 0])
