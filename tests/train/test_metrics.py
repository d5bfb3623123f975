from __future__ import annotations

import io
import math
import re

from retailsage.train.metrics import (
    MAX_METRIC_DEFINITIONS,
    METRIC_DEFINITIONS,
    METRIC_NAMES,
    MetricWriter,
    format_metric,
)


def test_definitions_respect_the_sagemaker_limits():
    assert 0 < len(METRIC_DEFINITIONS) <= MAX_METRIC_DEFINITIONS
    assert [d["Name"] for d in METRIC_DEFINITIONS] == list(METRIC_NAMES)
    assert len(set(METRIC_NAMES)) == len(METRIC_NAMES)
    for definition in METRIC_DEFINITIONS:
        assert set(definition) == {"Name", "Regex"}
        assert 1 <= len(definition["Name"]) <= 255
        assert 1 <= len(definition["Regex"]) <= 500
        assert re.compile(definition["Regex"]).groups >= 1


def test_each_regex_captures_its_own_line_and_no_other():
    lines = [format_metric(name, 10.5 + i, step=i) for i, name in enumerate(METRIC_NAMES)]
    # SageMaker scans the log stream; a tab shows up as #011 and a timestamp may precede.
    log = "\n".join(f"2026-11-22 12:00:00 #011{line}" for line in lines)
    for i, definition in enumerate(METRIC_DEFINITIONS):
        matches = re.findall(definition["Regex"], log, flags=re.MULTILINE)
        assert matches == [f"{10.5 + i:.6g}"], definition["Name"]


def test_writer_prints_one_flushed_line_per_metric_and_skips_non_finite():
    stream = io.StringIO()
    writer = MetricWriter(stream)
    writer("validation:mae", 12.41, 3)
    writer("validation:rmse", math.nan, 3)
    writer.write_all({"validation:medae": 7.0, "baseline:median:mae": 20.0})
    assert stream.getvalue().splitlines() == [
        "validation:mae=12.41; step=3",
        "baseline:median:mae=20;",
        "validation:medae=7;",
    ]
    assert math.isnan(writer.last["validation:rmse"])


def test_no_metric_name_ends_with_another():
    for name in METRIC_NAMES:
        for other in METRIC_NAMES:
            assert name == other or not f"{name}=".endswith(f"{other}="), (name, other)
