"""The L1 XGBoost gap model starts at the exact weighted median of the target.

Over half of the capped as-of targets sit at the cap H. XGBoost's own start estimate can land
a float step above that value (60.0000004), every gradient is then +1 and no tree splits: the
model predicted H for every customer on the real file's full-data refit. The data below is a
small case of that shape which collapsed the same way before the fix.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from retailsage.core.collective import SINGLE_HOST
from retailsage.features.gap import AS_OF_DATE, TARGET
from retailsage.models.distributed_stats import weighted_median
from retailsage.models.xgboost_gap import XGBoostGap, XGBoostGapConfig


def capped_rows() -> pd.DataFrame:
    """15,776 snapshot-like rows: 30 weekly as-of dates, about 57 % of targets at the cap 60."""
    rng = np.random.default_rng(1)
    n = int(rng.integers(3000, 30000))
    x = rng.normal(size=(n, 3))
    p60 = 1 / (1 + np.exp(-(2.5 * x[:, 1] + 0.3)))
    at_cap = rng.random(n) < p60
    bought = np.clip(np.round(30 + 10 * x[:, 0] + rng.normal(0, 5, n)), 0, 59)
    weeks = rng.integers(0, 30, n)
    as_of = pd.Timestamp("2011-10-11") - pd.to_timedelta(7 * weeks, unit="D")
    target = np.where(at_cap, 60.0, bought)
    return pd.DataFrame(
        {"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], TARGET: target, AS_OF_DATE: as_of}
    )


def test_l1_model_on_a_target_massed_at_the_cap_still_learns() -> None:
    rows = capped_rows()
    config = XGBoostGapConfig(
        num_round=3,
        max_depth=3,
        early_stopping_rounds=0,
        nthread=1,
        exclude_columns=(),
        min_child_fraction=0.0,
    )
    model = XGBoostGap(config).fit(rows)
    learner = json.loads(model.booster_.save_config())["learner"]["learner_model_param"]
    assert float(learner["base_score"].strip("[]")) == 60.0  # exactly, not a float step above
    predicted = model.predict(rows)["predicted_gap_days"].to_numpy()
    assert predicted.std() > 0.1  # not the constant H


def test_weighted_median_is_a_value_of_the_data() -> None:
    values = np.array([3.0, 1.0, 60.0, 60.0, 2.0])
    assert weighted_median(values, np.ones(5), SINGLE_HOST) == 3.0
    assert weighted_median(values, np.array([1.0, 1.0, 0.1, 0.1, 5.0]), SINGLE_HOST) == 2.0
    assert weighted_median(np.zeros(0), np.zeros(0), SINGLE_HOST) == 0.0
