"""Input drift: a training-time reference of every model input, and PSI of a scored batch.

At training time :func:`build_reference` bins each of the model's input columns
(``model.input_columns``, whatever the family or feature set) on the training rows:

* numeric columns: decile edges of the training values (duplicates merged), plus a missing bin;
* text / boolean / categorical columns: the 20 most frequent values, an "other" bin and a
  missing bin; a column whose values are mostly distinct (an identifier) is skipped;
* date/time columns are skipped (a later batch always has later dates);
* inputs the model ignores (a family's ``exclude_columns``, e.g. the gap families' ``month``
  of the last order, which follows the as-of date rather than the customer) are skipped.

The rows are the ones the model was fitted on, in the featurization it scores: the training
runner asks the family (``drift_inputs(train)``, when it has one) for its fitted rows, e.g. a
gap model's as-of snapshot rows after its target/outlier filter.

The reference is plain JSON (``drift_reference.json`` in the model directory, named by the
manifest's ``drift_reference`` key; no pickle). :func:`population_stability` bins a scored
batch the same way and returns, per column, the population stability index
``PSI = sum((actual - expected) * ln(actual / expected))`` over the bins (shares floored at
1e-4 so an empty bin stays finite). Rules of thumb: < 0.1 stable, 0.1-0.2 moderate, > 0.2 a
significant shift (the default alarm threshold).

Small batches: a sample of ``n`` rows from the training distribution itself has an expected
PSI of about ``(k - 1) * (1/n + 1/N)`` over ``k`` bins and ``N`` reference rows (the
chi-square approximation of PSI), about 0.05 for 214 rows and 11 bins, with a spread of the
same order. The reported PSI is the raw PSI less that no-drift expectation (floored at 0;
``psi_raw`` keeps the raw figure), and a batch under :data:`MIN_BATCH_ROWS` rows raises no
alarm (its columns are listed as skipped).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retailsage.core.errors import UserError

REFERENCE_FILE = "drift_reference.json"
MANIFEST_KEY = "drift_reference"
FORMAT_VERSION = 1
DEFAULT_THRESHOLD = 0.2
THRESHOLD_ENV = "RETAILSAGE_DRIFT_PSI_THRESHOLD"
QUANTILES = tuple(i / 10 for i in range(1, 10))
TOP_CATEGORIES = 20
IDENTIFIER_DISTINCT_SHARE = 0.5
OTHER = "__other__"
MISSING = "__missing__"
MIN_BATCH_ROWS = 50
IGNORED_REASON = "ignored by the model (exclude_columns): not a model input"
AS_OF_COLUMN = "as_of_date"
_FLOOR = 1e-4


def _shares(counts: np.ndarray) -> list[float]:
    """Counts -> shares (all zero when there are no rows)."""
    total = float(counts.sum())
    return [float(c) / total if total else 0.0 for c in counts]


def _numeric_counts(values: pd.Series, edges: Sequence[float]) -> np.ndarray:
    """Counts per bin ``(-inf, e0], (e0, e1], ..., (ek, inf)`` and a last missing bin."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    missing = np.isnan(numbers)
    index = np.searchsorted(np.asarray(edges, dtype=np.float64), numbers[~missing], side="left")
    counts = np.bincount(index, minlength=len(edges) + 1).astype(np.float64)
    return np.append(counts, float(missing.sum()))


def _category_counts(values: pd.Series, categories: Sequence[str]) -> np.ndarray:
    """Counts per known category, then "other", then missing."""
    missing = values.isna()
    text = values[~missing].astype(str)
    counts = text.value_counts()
    known = [float(counts.get(c, 0)) for c in categories]
    other = float(len(text)) - sum(known)
    return np.asarray([*known, other, float(missing.sum())], dtype=np.float64)


def _column_reference(values: pd.Series) -> dict[str, Any]:
    """Bin one training column (or say why it is skipped)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return {"kind": "skipped", "reason": "date/time column (later batches always differ)"}
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce").dropna()
        if numbers.empty:
            return {"kind": "skipped", "reason": "no numeric values in training"}
        edges = sorted({float(q) for q in np.quantile(numbers.to_numpy(np.float64), QUANTILES)})
        return {
            "kind": "numeric",
            "edges": edges,
            "expected": _shares(_numeric_counts(values, edges)),
        }
    present = values.dropna()
    if len(present) and present.astype(str).nunique() > IDENTIFIER_DISTINCT_SHARE * len(present):
        return {"kind": "skipped", "reason": "identifier-like (mostly distinct values)"}
    categories = [str(c) for c in present.astype(str).value_counts().index[:TOP_CATEGORIES]]
    return {
        "kind": "categorical",
        "categories": categories,
        "expected": _shares(_category_counts(values, categories)),
    }


def build_reference(
    frame: pd.DataFrame, columns: Sequence[str], ignored: Sequence[str] = ()
) -> dict[str, Any]:
    """Bin the model's input columns on the training rows.

    Args:
        frame: the rows the model was fitted on.
        columns: the model's input columns (``model.input_columns``); those absent from
            ``frame`` are listed as skipped.
        ignored: input columns the model ignores (listed as skipped).

    Returns:
        The JSON-safe reference: ``format_version``, ``rows`` and ``columns`` (name -> bins).
    """
    reference: dict[str, Any] = {}
    for name in columns:
        if name in ignored:
            reference[name] = {"kind": "skipped", "reason": IGNORED_REASON}
        elif name not in frame.columns:
            reference[name] = {"kind": "skipped", "reason": "not in the training rows"}
        else:
            reference[name] = _column_reference(frame[name])
    result: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "rows": len(frame),
        "columns": reference,
    }
    dates = _as_of_dates(frame)
    if dates is not None:
        result["as_of"] = {
            "first": str(dates.min().date()),
            "last": str(dates.max().date()),
            "dates": int(dates.nunique()),
        }
    return result


def _as_of_dates(frame: pd.DataFrame) -> pd.Series | None:
    """The rows' as-of dates (snapshot rows), or None when they carry none."""
    if AS_OF_COLUMN not in frame.columns:
        return None
    dates = pd.to_datetime(frame[AS_OF_COLUMN], errors="coerce").dropna()
    if dates.empty:
        return None
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    return dates


def write_reference(
    model_dir: Path, frame: pd.DataFrame, columns: Sequence[str], ignored: Sequence[str] = ()
) -> dict[str, Any]:
    """Write ``drift_reference.json`` into the model dir and name it in ``manifest.json``.

    Args:
        model_dir: the directory ``save_model`` wrote (its manifest is updated in place).
        frame: the rows the model was fitted on.
        columns: the model's input columns.
        ignored: input columns the model ignores.

    Returns:
        The updated manifest.
    """
    reference = build_reference(frame, columns, ignored)
    (model_dir / REFERENCE_FILE).write_text(json.dumps(reference, indent=1) + "\n")
    manifest_path = model_dir / "manifest.json"
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    manifest[MANIFEST_KEY] = REFERENCE_FILE
    manifest_path.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index of two share vectors over the same bins.

    Args:
        expected: training shares per bin.
        actual: batch shares per bin.

    Returns:
        ``sum((a - e) * ln(a / e))`` with shares floored at 1e-4.
    """
    e = np.maximum(np.asarray(expected, dtype=np.float64), _FLOOR)
    a = np.maximum(np.asarray(actual, dtype=np.float64), _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def sampling_psi(expected: Sequence[float], rows: int, reference_rows: int) -> float:
    """The PSI expected with no drift at all, from sampling alone.

    Args:
        expected: training shares per bin.
        rows: rows in the scored batch.
        reference_rows: rows the reference was built on (0: unknown, treated as infinite).

    Returns:
        ``(k - 1) * (1/rows + 1/reference_rows)`` over the ``k`` bins with training rows.
    """
    bins = int(np.count_nonzero(np.asarray(expected, dtype=np.float64) > 0))
    if rows <= 0 or bins <= 1:
        return 0.0
    return (bins - 1) * (1.0 / rows + (1.0 / reference_rows if reference_rows > 0 else 0.0))


@dataclass(frozen=True)
class DriftReport:
    """PSI of one scored batch against the training reference.

    Attributes:
        rows: rows in the batch.
        threshold: the alarm threshold.
        psi: column -> PSI less its no-drift sampling expectation, floored at 0 (binned
            columns present in the batch).
        skipped: column -> why it has no PSI.
        psi_raw: column -> the raw PSI.
        context: as-of dates of snapshot models: ``training_as_of_last`` (newest training
            snapshot), ``batch_as_of`` and ``days_after_training`` (the gap between them).
    """

    rows: int
    threshold: float
    psi: Mapping[str, float]
    skipped: Mapping[str, str]
    psi_raw: Mapping[str, float] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)

    @property
    def drifted(self) -> list[str]:
        """Columns whose PSI reaches the threshold, worst first."""
        over = [c for c, v in self.psi.items() if v >= self.threshold]
        return sorted(over, key=lambda c: -self.psi[c])

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to the run report."""
        return {
            "rows": self.rows,
            "threshold": self.threshold,
            "psi": {c: round(v, 6) for c, v in sorted(self.psi.items())},
            "drifted": self.drifted,
            "psi_raw": {c: round(v, 6) for c, v in sorted(self.psi_raw.items())},
            **dict(self.context),
            "skipped": dict(sorted(self.skipped.items())),
        }


def population_stability(
    reference: Mapping[str, Any], batch: pd.DataFrame, threshold: float | None = None
) -> DriftReport:
    """Compute the PSI of every referenced column of a scored batch.

    Args:
        reference: what :func:`build_reference` returned.
        batch: the scored rows (extra columns are ignored).
        threshold: the alarm threshold; :func:`alarm_threshold` when ``None``.

    Returns:
        The per-column PSI and the skipped columns.

    Raises:
        ValueError: an unknown reference format.
    """
    if reference.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"unsupported drift reference version {reference.get('format_version')}")
    raw: dict[str, float] = {}
    values: dict[str, float] = {}
    skipped: dict[str, str] = {}
    reference_rows = int(reference.get("rows", 0))
    for name, spec in reference["columns"].items():
        kind = spec["kind"]
        if kind == "skipped":
            skipped[name] = spec["reason"]
        elif name not in batch.columns:
            skipped[name] = "not in the scored batch"
        elif len(batch) < MIN_BATCH_ROWS:
            skipped[name] = f"batch of {len(batch)} rows < {MIN_BATCH_ROWS}: too small for PSI"
        else:
            if kind == "numeric":
                counts = _numeric_counts(batch[name], spec["edges"])
            else:
                counts = _category_counts(batch[name], spec["categories"])
            raw[name] = psi(spec["expected"], _shares(counts))
            noise = sampling_psi(spec["expected"], len(batch), reference_rows)
            values[name] = max(0.0, raw[name] - noise)
    limit = alarm_threshold() if threshold is None else threshold
    return DriftReport(
        rows=len(batch),
        threshold=limit,
        psi=values,
        skipped=skipped,
        psi_raw=raw,
        context=_as_of_context(reference, batch),
    )


def _as_of_context(reference: Mapping[str, Any], batch: pd.DataFrame) -> dict[str, Any]:
    """How far the batch's as-of date lies after the newest training snapshot."""
    trained = reference.get("as_of")
    dates = _as_of_dates(batch)
    if not trained or dates is None:
        return {}
    last, scored = pd.Timestamp(trained["last"]), dates.max().normalize()
    return {
        "training_as_of_last": trained["last"],
        "batch_as_of": str(scored.date()),
        "days_after_training": int((scored - last).days),
    }


def alarm_threshold(environ: Mapping[str, str] | None = None) -> float:
    """The PSI alarm threshold: ``RETAILSAGE_DRIFT_PSI_THRESHOLD``, default 0.2.

    Args:
        environ: the environment (``os.environ`` when omitted).

    Returns:
        A positive threshold.

    Raises:
        UserError: the variable is not a positive number.
    """
    raw = (os.environ if environ is None else environ).get(THRESHOLD_ENV, "")
    if not raw.strip():
        return DEFAULT_THRESHOLD
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise UserError(f"{THRESHOLD_ENV}={raw!r} must be a positive number")
    return value


def summary_lines(report: DriftReport, *, top: int = 5) -> list[str]:
    """Render the drift check for the terminal summary.

    Args:
        report: the batch's drift report.
        top: how many columns to show.

    Returns:
        One string per line; an ``ALARM`` line when any column reaches the threshold.
    """
    ranked = sorted(report.psi.items(), key=lambda item: -item[1])
    shown = ", ".join(f"{c} {v:.3f}" for c, v in ranked[:top]) or "no binned columns"
    lines = [
        f"  input drift (PSI vs training, {report.rows:,} scored rows, alarm >= "
        f"{report.threshold:g}): {shown}"
    ]
    if report.drifted:
        lines.append(
            f"  DRIFT ALARM: {len(report.drifted)} input(s) shifted: {', '.join(report.drifted)}"
        )
        days = int(report.context.get("days_after_training", 0))
        if days > 0:
            lines.append(
                f"  (scored as of {report.context['batch_as_of']}, {days} days after the newest "
                f"training snapshot {report.context['training_as_of_last']}: history-length "
                "inputs such as days_since_first_order, order_index and the presence of "
                "gap_lag_* grow with that gap; see docs/pipeline.md)"
            )
    return lines
