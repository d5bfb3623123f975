"""The local Batch Transform runner: mini-batching, ordering, .out files, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from serve_helpers import gap_csv

from retailsage.core.errors import UserError
from retailsage.serve.batch_transform import main, mini_batches, run_batch_transform
from retailsage.serve.local_server import ServerProcess


@pytest.mark.parametrize("trailing_newline", [True, False])
def test_mini_batches_cover_the_file_in_order_under_the_limit(trailing_newline: bool) -> None:
    lines = [b"x" * (n % 37 + 1) for n in range(500)]
    data = b"\n".join(lines) + (b"\n" if trailing_newline else b"")
    batches = list(mini_batches(data, 200, "MultiRecord"))
    assert b"".join(data[a:b] for a, b, _ in batches) == data
    assert all(b - a <= 200 for a, b, _ in batches)
    assert sum(n for _, _, n in batches) == 500
    assert len(batches) < 500
    single = list(mini_batches(data, 200, "SingleRecord"))
    assert len(single) == 500 and all(n == 1 for _, _, n in single)


def test_a_line_larger_than_the_payload_limit_is_refused() -> None:
    with pytest.raises(UserError, match="line 2"):
        list(mini_batches(b"ab\n" + b"x" * 300 + b"\n", 100, "MultiRecord"))


def test_non_loopback_endpoints_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="loopback"):
        run_batch_transform(
            "http://10.0.0.1:8080",
            [],
            tmp_path,
            content_type="text/csv",
            accept="text/csv",
            max_concurrent=1,
        )


def test_transform_files_line_aligned_with_multiple_mini_batches(
    xgb_server: ServerProcess, gap_snapshots: pd.DataFrame, tmp_path: Path
) -> None:
    big = gap_csv(pd.concat([gap_snapshots] * 60, ignore_index=True))
    assert len(big) > 1024 * 1024  # more than one 1 MiB mini-batch
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_bytes(big)
    rows = gap_csv(gap_snapshots.head(10)).split(b"\n")
    rows[3] = b"bad"
    (tmp_path / "in" / "b.csv").write_bytes(b"\n".join(rows[:-1]))  # no trailing newline
    (tmp_path / "in" / "c.csv").write_bytes(b"1," * 600_000 + b"1\n")  # one line > 1 MiB
    result = run_batch_transform(
        xgb_server.url,
        sorted((tmp_path / "in").iterdir()),
        tmp_path / "out",
        content_type="text/csv",
        accept="text/csv",
        max_payload_mb=1,
    )
    a, b, c = result.files
    assert a.requests >= 2 and a.records_in == a.records_out == big.count(b"\n")
    assert a.output == tmp_path / "out" / "a.csv.out"
    assert b.records_in == b.records_out == 10
    assert b.output is not None and b.output.read_text().split("\n")[3].startswith("ERROR,")
    assert c.error is not None and c.output is None  # a failed file gets no .out
    assert not (tmp_path / "out" / "c.csv.out").exists()
    assert [f.input.name for f in result.failed] == ["c.csv"]
    run_batch_transform(
        xgb_server.url,
        [tmp_path / "in" / "a.csv"],
        tmp_path / "single",
        content_type="text/csv",
        accept="text/csv",
        max_concurrent=1,
        max_payload_mb=1,
    )
    assert (tmp_path / "single" / "a.csv.out").read_bytes() == a.output.read_bytes()


def test_cli_prints_a_summary(
    xgb_server: ServerProcess,
    gap_snapshots: pd.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "rows.jsonl"
    source.write_bytes(
        gap_snapshots.head(5)
        .drop(columns=["as_of_date", "order_date"])
        .to_json(orient="records", lines=True)
        .encode()
    )
    code = main(
        [
            "--endpoint",
            xgb_server.url,
            str(source),
            "--output-dir",
            str(tmp_path / "o"),
            "--content-type",
            "application/jsonlines",
            "--accept",
            "application/jsonlines",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records_in"] == summary["records_out"] == 5
    first = json.loads((tmp_path / "o" / "rows.jsonl.out").read_text().splitlines()[0])
    assert first["CustomerID"] == gap_snapshots["CustomerID"].iloc[0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--endpoint", "http://127.0.0.1:9", "--max-payload-mb", "500"], "out of range"),
        (["--endpoint", "http://example.com:8080"], "loopback"),
    ],
)
def test_cli_reports_an_unusable_setting_with_exit_2(
    tmp_path: Path, extra: list[str], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "in.csv"
    data.write_text("1,2\n")
    assert main([*extra, "--output-dir", str(tmp_path / "out"), str(data)]) == 2
    assert message in caplog.text
