"""Real Online Retail lines (quoted descriptions, missing customers) decode and score cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from serve_helpers import make_app

from retailsage.data.loader import load_transactions
from retailsage.data.schema import TRANSACTION_COLUMNS
from retailsage.models.artifacts import save_model
from retailsage.models.pca_kmeans import PcaKmeansAnomaly, PcaKmeansConfig


@pytest.mark.realdata
def test_real_transaction_lines_score_one_line_each(real_data_path: Path, tmp_path: Path) -> None:
    lines = load_transactions(real_data_path)[list(TRANSACTION_COLUMNS)].iloc[::50]
    save_model(PcaKmeansAnomaly(PcaKmeansConfig(n_init=1)).fit(lines), tmp_path)
    client = make_app(tmp_path, batch=True, bad_record="emit").test_client()
    body = lines.to_csv(header=False, index=False, date_format="%Y-%m-%d %H:%M:%S").encode()
    assert b'"' in body and len(body) > 16_384  # quoted fields, large-payload path
    response = client.post("/invocations", data=body, headers={"Content-Type": "text/csv"})
    assert response.status_code == 200
    out = response.data.decode().split("\n")
    assert len(out) == len(lines) + 1 and out[-1] == ""
    assert not [line for line in out if line.startswith("ERROR")]
