"""Drift reference and PSI: unshifted batches stay quiet, shifted ones alarm."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retailsage.core.errors import UserError
from retailsage.evaluation.drift import (
    MANIFEST_KEY,
    REFERENCE_FILE,
    alarm_threshold,
    build_reference,
    population_stability,
    psi,
    summary_lines,
    write_reference,
)


def frame(n: int, seed: int, *, shift: float = 0.0, country_mix: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    countries = np.where(rng.random(n) < 0.8 - country_mix, "United Kingdom", "France")
    return pd.DataFrame(
        {
            "days_since_last": rng.gamma(2.0, 10.0, n) + shift,
            "orders": rng.poisson(5, n).astype(float),
            "country": countries,
            "invoice": [f"INV{seed}-{i}" for i in range(n)],
            "when": pd.Timestamp("2011-01-01") + pd.to_timedelta(rng.integers(0, 300, n), "D"),
        }
    )


COLUMNS = ("days_since_last", "orders", "country", "invoice", "when", "absent")


def test_reference_bins_are_json_and_skip_ids_dates_and_absent_columns() -> None:
    reference = build_reference(frame(5000, 0), COLUMNS)
    json.dumps(reference)  # plain JSON
    columns = reference["columns"]
    assert columns["days_since_last"]["kind"] == "numeric"
    assert len(columns["days_since_last"]["edges"]) == 9
    assert sum(columns["days_since_last"]["expected"]) == pytest.approx(1.0)
    assert columns["country"]["kind"] == "categorical"
    assert set(columns["country"]["categories"]) == {"United Kingdom", "France"}
    assert columns["invoice"]["kind"] == "skipped"  # identifier-like
    assert columns["when"]["kind"] == "skipped"  # date
    assert columns["absent"]["reason"] == "not in the training rows"


def test_unshifted_batch_is_stable_and_shifted_batch_alarms() -> None:
    reference = build_reference(frame(20_000, 0), COLUMNS)
    same = population_stability(reference, frame(5_000, 1), threshold=0.2)
    assert max(same.psi.values()) < 0.05, same.psi
    assert same.drifted == []
    shifted = population_stability(
        reference, frame(5_000, 2, shift=15.0, country_mix=0.5), threshold=0.2
    )
    assert shifted.psi["days_since_last"] > 0.5
    assert shifted.psi["country"] > 0.2
    assert shifted.psi["orders"] < 0.05  # not shifted
    assert set(shifted.drifted) == {"days_since_last", "country"}
    assert shifted.drifted[0] == max(shifted.psi, key=lambda c: shifted.psi[c])  # worst first
    lines = summary_lines(shifted)
    assert any("DRIFT ALARM" in line and "days_since_last" in line for line in lines)
    assert not any("DRIFT ALARM" in line for line in summary_lines(same))
    assert shifted.to_dict()["skipped"]["invoice"].startswith("identifier")


def test_missing_values_and_unknown_categories_count_as_shift() -> None:
    reference = build_reference(frame(5_000, 0), COLUMNS)
    batch = frame(2_000, 3)
    batch.loc[: len(batch) // 2, "orders"] = np.nan
    batch["country"] = "Narnia"
    report = population_stability(reference, batch.drop(columns=["days_since_last"]), 0.2)
    assert report.psi["orders"] > 0.2 and report.psi["country"] > 0.2
    assert report.skipped["days_since_last"] == "not in the scored batch"


def test_psi_is_zero_for_identical_shares_and_finite_for_empty_bins() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert np.isfinite(psi([1.0, 0.0], [0.0, 1.0]))


def test_threshold_is_configurable() -> None:
    assert alarm_threshold({}) == 0.2
    assert alarm_threshold({"RETAILSAGE_DRIFT_PSI_THRESHOLD": "0.1"}) == 0.1
    with pytest.raises(UserError, match="positive"):
        alarm_threshold({"RETAILSAGE_DRIFT_PSI_THRESHOLD": "-1"})


@pytest.mark.parametrize("raw", ["abc", "nan", "0", "inf"])
def test_threshold_that_is_not_a_positive_number_is_a_user_error(raw: str) -> None:
    with pytest.raises(UserError, match=r"RETAILSAGE_DRIFT_PSI_THRESHOLD=.* positive number"):
        alarm_threshold({"RETAILSAGE_DRIFT_PSI_THRESHOLD": raw})


def test_pipeline_run_rejects_a_bad_threshold_before_starting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from retailsage.cli import main
    from retailsage.pipeline import run

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the pipeline started despite the bad threshold")

    monkeypatch.setattr(run, "LocalPipeline", refuse)
    monkeypatch.setenv("RETAILSAGE_DRIFT_PSI_THRESHOLD", "abc")
    assert main(["pipeline", "run", "--runs-dir", str(tmp_path)]) == 2
    assert (
        "RETAILSAGE_DRIFT_PSI_THRESHOLD='abc' must be a positive number" in capsys.readouterr().err
    )


def test_write_reference_is_listed_in_the_manifest(tmp_path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"family": "xgboost"}))
    manifest = write_reference(tmp_path, frame(1000, 0), ["orders"])
    assert manifest[MANIFEST_KEY] == REFERENCE_FILE
    assert json.loads((tmp_path / "manifest.json").read_text())[MANIFEST_KEY] == REFERENCE_FILE
    stored = json.loads((tmp_path / REFERENCE_FILE).read_text())
    assert list(stored["columns"]) == ["orders"]
