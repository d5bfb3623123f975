"""Multi-host training: n copies of `entrypoint.sh train` meet over loopback and train one model.

The data is split into customer-bucket objects (as the extract step writes them) and dealt to
the hosts by ``ShardedByS3Key``; each job is compared with a single host on the same objects.
"""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pytest

from retailsage.data.buckets import split_by_customer
from retailsage.data.cleaning import clean_transactions
from retailsage.data.synthetic import generate_transactions
from retailsage.features.protocols import split_asof
from retailsage.models.artifacts import load_model
from retailsage.train import runner
from retailsage.train.local import ENTRYPOINT, build_training_tree
from retailsage.train.local_cluster import (
    SHARDED,
    LocalCluster,
    build_cluster,
    host_tree_root,
    run_cluster,
)

from .conftest import job_env

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("multi-host")]

XGBOOST = {"model_type": "xgboost", "num_round": "80", "nthread": "1", "target": "order_gap"}
LSTM = {
    "model_type": "lstm",
    "target": "order_gap",
    "epochs": "6",
    "hidden_size": "8",
    "batch_size": "128",
    "device": "cpu",
    "num_threads": "1",
}
ASOF_XGBOOST = {**XGBOOST, "target": "asof", "num_round": "40"}
ASOF_LSTM = {**LSTM, "target": "asof", "epochs": "4"}
TIMEOUT_S = 60
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def bucket_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four customer-bucket Parquet objects of about 12k generated transaction lines."""
    lines = clean_transactions(generate_transactions(12_000, seed=5))
    folder = tmp_path_factory.mktemp("buckets")
    files = []
    for index, part in enumerate(split_by_customer(lines, 4)):
        path = folder / f"part-{index:05d}.parquet"
        part.to_parquet(path, index=False)
        files.append(path)
    return files


def run_job(
    root: Path, files: list[Path], hyperparameters: Mapping[str, str], hosts: int
) -> tuple[LocalCluster, list[int], list[str]]:
    """Run a sharded job on ``hosts`` local hosts; return the cluster, exit codes, algo-1 lines."""
    cluster = build_cluster(
        root,
        {"train": files},
        hyperparameters,
        instance_count=hosts,
        distribution={"train": SHARDED},
        timeout_s=TIMEOUT_S,
    )
    lines: list[str] = []
    codes = run_cluster(cluster, extra_env=THREADS, on_line=lines.append)
    return cluster, codes, lines


def metrics(root: Path) -> dict[str, float]:
    """The job's final metrics (written by algo-1)."""
    return dict(json.loads((root / "output" / "data" / "metrics.json").read_text()))


def failure(root: Path) -> str:
    """A host's failure text ('' when none)."""
    path = root / "output" / "failure"
    return path.read_text() if path.is_file() else ""


@pytest.mark.parametrize("hyperparameters", [XGBOOST, LSTM], ids=["xgboost", "lstm"])
def test_two_hosts_train_one_model_as_good_as_one_host(
    tmp_path: Path, bucket_files: list[Path], hyperparameters: dict[str, str]
) -> None:
    single_root = tmp_path / "single"  # the reference: one host, all objects, in-process
    build_training_tree(single_root, {"train": bucket_files}, hyperparameters)
    assert runner.main({"SAGEMAKER_BASE_DIR": str(single_root)}, stdout=io.StringIO()) == 0
    root = tmp_path / "pair"
    cluster, codes, lines = run_job(root, bucket_files, hyperparameters, hosts=2)
    second = host_tree_root(root, "algo-2")
    assert codes == [0, 0], failure(root) + failure(second)
    # each host read only its own objects
    assert sorted(p.name for p in (root / "input/data/train").iterdir()) == [
        "part-00000.parquet",
        "part-00002.parquet",
    ]
    assert sorted(p.name for p in (second / "input/data/train").iterdir()) == [
        "part-00001.parquet",
        "part-00003.parquet",
    ]
    # only algo-1 writes the model, the reports and the metric lines
    assert load_model(root / "model").predict is not None
    assert not any((second / "model").iterdir())
    assert not (second / "output" / "data" / "metrics.json").exists()
    assert "validation:mae=" not in (second / "host.log").read_text()
    assert any(line.startswith("validation:mae=") for line in lines)
    report = json.loads((root / "output" / "data" / "report.json").read_text())
    assert report["data"]["training_hosts"] == ["algo-1", "algo-2"]
    # the holdout covers both hosts' customers: as many rows as on one host
    single_report = json.loads((single_root / "output" / "data" / "report.json").read_text())
    assert report["data"]["evaluation_rows"] == single_report["data"]["evaluation_rows"]
    assert report["data"]["cutoff"] == single_report["data"]["cutoff"]
    mae, single_mae = metrics(root)["validation:mae"], metrics(single_root)["validation:mae"]
    assert abs(mae - single_mae) <= 0.10 * single_mae, (mae, single_mae)
    assert cluster.hosts == ("algo-1", "algo-2")


@pytest.mark.parametrize("hyperparameters", [ASOF_XGBOOST, ASOF_LSTM], ids=["xgboost", "lstm"])
def test_two_hosts_train_the_asof_target_as_good_as_one_host(
    tmp_path: Path, bucket_files: list[Path], hyperparameters: dict[str, str]
) -> None:
    single_root = tmp_path / "single"
    build_training_tree(single_root, {"train": bucket_files}, hyperparameters)
    assert runner.main({"SAGEMAKER_BASE_DIR": str(single_root)}, stdout=io.StringIO()) == 0
    root = tmp_path / "pair"
    _, codes, lines = run_job(root, bucket_files, hyperparameters, hosts=2)
    second = host_tree_root(root, "algo-2")
    assert codes == [0, 0], failure(root) + failure(second)
    assert not any((second / "model").iterdir())  # only algo-1 writes
    assert not (second / "output" / "data" / "metrics.json").exists()
    assert any(line.startswith("validation:mae=") for line in lines)
    report = json.loads((root / "output" / "data" / "report.json").read_text())["data"]
    single = json.loads((single_root / "output" / "data" / "report.json").read_text())["data"]
    assert report["training_hosts"] == ["algo-1", "algo-2"]
    for key in ("target", "cutoff", "evaluation_rows", "train_rows"):  # same holdout, snapshots
        assert report[key] == single[key], key
    pair, alone = metrics(root), metrics(single_root)
    assert abs(pair["validation:mae"] - alone["validation:mae"]) <= 0.10 * alone["validation:mae"]
    for name in ("validation:brier", "validation:roc_auc", "baseline:residual_life:mae"):
        assert name in pair, name
    for name in ("baseline:constant:mae", "baseline:residual_life:mae"):  # global statistics
        assert pair[name] == pytest.approx(alone[name]), name
    assert pair["validation:past_date_share"] == 0.0
    # refit_full (default): both hosts refit on the same newest snapshots as one host does
    trained = json.loads((root / "output" / "data" / "report.json").read_text())["training"]
    alone_trained = json.loads((single_root / "output" / "data" / "report.json").read_text())
    for key in ("refit_full", "as_of_first", "as_of_last", "rows"):
        assert trained[key] == alone_trained["training"][key], key
    assert trained["as_of_last"] > report["cutoff"]  # newer than the holdout's training side
    manifest = json.loads((root / "model" / "manifest.json").read_text())
    assert manifest["training"]["iterations"] == trained["iterations"] >= 1
    rows = split_asof(pd.read_parquet(bucket_files[0]), None, 30).test.head(20)
    assert "purchase_probability" in load_model(root / "model").predict(rows).columns


def test_a_host_without_data_leaves_and_the_others_train(
    tmp_path: Path, bucket_files: list[Path]
) -> None:
    root = tmp_path / "three"
    # two objects for three hosts: algo-3 gets none (ShardedByS3Key deals objects, not rows)
    cluster, codes, _ = run_job(root, bucket_files[:2], XGBOOST, hosts=3)
    third = host_tree_root(root, "algo-3")
    assert codes == [0, 0, 0], failure(root) + failure(third)
    assert not any((third / "input/data/train").iterdir())
    assert "has no training rows; it leaves the job" in (third / "host.log").read_text()
    report = json.loads((root / "output" / "data" / "report.json").read_text())
    assert report["data"]["training_hosts"] == ["algo-1", "algo-2"]
    assert report["data"]["hosts"] == list(cluster.hosts)
    assert metrics(root)["validation:mae"] > 0


def test_no_host_with_data_is_a_user_error_on_every_host(tmp_path: Path) -> None:
    root = tmp_path / "none"
    cluster = build_cluster(root, {"train": []}, XGBOOST, instance_count=2, timeout_s=TIMEOUT_S)
    codes = run_cluster(cluster, extra_env=THREADS, on_line=lambda line: None)
    # both hosts find it out; whichever exits first stops the other, as SageMaker does
    assert codes[0] != 0 and codes[1] != 0
    texts = [failure(host_tree_root(root, host)) for host in cluster.hosts]
    assert any(t.startswith("UserError: no host received training data") for t in texts), texts


def test_a_lost_host_fails_the_job_with_a_failure_file(
    tmp_path: Path, bucket_files: list[Path]
) -> None:
    root = tmp_path / "lost"
    cluster = build_cluster(
        root,
        {"train": bucket_files},
        XGBOOST,
        instance_count=2,
        distribution={"train": SHARDED},
        timeout_s=3,
    )
    # algo-2 never starts (a lost instance): algo-1 gives up after the timeout
    alone = LocalCluster(hosts=cluster.hosts, trees=cluster.trees[:1], env=cluster.env)
    codes = run_cluster(alone, extra_env=THREADS, on_line=lambda line: None)
    assert codes != [0]
    text = failure(root)
    assert text.startswith("PlatformError:"), text
    assert "a host was lost or did not join within 3 s" in text
    assert not any((root / "model").iterdir())


def test_sharded_features_equal_full_features(bucket_files: list[Path]) -> None:
    from retailsage.features.gap import CUSTOMER_ID, ORDER_DATE, gap_training_rows

    parts = [pd.read_parquet(path) for path in bucket_files]
    full = gap_training_rows(pd.concat(parts, ignore_index=True))
    sharded = pd.concat([gap_training_rows(part) for part in parts], ignore_index=True)
    key = [CUSTOMER_ID, ORDER_DATE]
    full = full.sort_values(key).reset_index(drop=True)
    sharded = sharded.sort_values(key).reset_index(drop=True)
    customers = [set(part[CUSTOMER_ID].dropna().astype(str)) for part in parts]
    assert all(a.isdisjoint(b) for i, a in enumerate(customers) for b in customers[i + 1 :])
    pd.testing.assert_frame_equal(full, sharded)


def test_sharded_asof_snapshots_equal_full_snapshots(bucket_files: list[Path]) -> None:
    from retailsage.features.gap import AS_OF_DATE, CUSTOMER_ID, ORDER_DATE, build_orders

    parts = [pd.read_parquet(path) for path in bucket_files]
    full = split_asof(pd.concat(parts, ignore_index=True), None, 30)
    orders = build_orders(pd.concat(parts, ignore_index=True))
    span = (orders[ORDER_DATE].min(), orders[ORDER_DATE].max())
    shards = [split_asof(part, None, 30, span=span, require_rows=False) for part in parts]
    assert {shard.cutoff for shard in shards} == {full.cutoff}
    key = [CUSTOMER_ID, AS_OF_DATE]
    for side in ("train", "test"):
        whole = getattr(full, side).sort_values(key).reset_index(drop=True)
        joined = pd.concat([getattr(s, side) for s in shards], ignore_index=True)
        pd.testing.assert_frame_equal(whole, joined.sort_values(key).reset_index(drop=True))
    gaps = [shard.gaps for shard in shards]
    assert sorted(full.gaps) == sorted(g for part in gaps for g in part)


def start_host(cluster: LocalCluster, index: int) -> subprocess.Popen[str]:
    """Start one host's `entrypoint.sh train` with the cluster's environment."""
    tree = cluster.trees[index]
    env = job_env(tree.base, {**cluster.env, **THREADS})
    return subprocess.Popen(
        [str(ENTRYPOINT), "train"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize(
    "hyperparameters",
    [
        {**XGBOOST, "num_round": "5000", "early_stopping_rounds": "0", "eta": "0.01"},
        {**LSTM, "epochs": "500", "early_stopping_epochs": "0"},
    ],
    ids=["xgboost", "lstm"],
)
def test_a_host_dying_during_training_fails_the_others(
    tmp_path: Path, bucket_files: list[Path], hyperparameters: dict[str, str]
) -> None:
    root = tmp_path / "dying"
    cluster = build_cluster(
        root,
        {"train": bucket_files},
        hyperparameters,
        instance_count=2,
        distribution={"train": SHARDED},
        timeout_s=TIMEOUT_S,
    )
    first, second = start_host(cluster, 0), start_host(cluster, 1)
    try:
        assert first.stdout is not None
        for line in first.stdout:  # training is under way once a metric line appears
            if line.startswith("validation:mae="):
                break
        second.kill()  # the instance is lost
        second.wait()
        first.stdout.read()
        assert first.wait(timeout=TIMEOUT_S) == 2
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.kill()
                process.wait()
    text = failure(root)
    assert text.startswith("PlatformError:"), text
    assert "a host was lost" in text.splitlines()[0]
    assert not any((root / "model").iterdir())
