"""Unit tests of the multi-host pieces that need no second process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retailsage.core.collective import (
    SINGLE_HOST,
    allgather_array,
    allgather_json,
    any_host,
    global_sum,
)
from retailsage.core.errors import UserError
from retailsage.core.paths import SageMakerPaths
from retailsage.data.buckets import bucket_count, customer_buckets
from retailsage.models.data_parallel import BatchPlan
from retailsage.models.distributed_stats import learn_spec, mean_std
from retailsage.models.tabular import TabularSpec
from retailsage.train.cluster import (
    DEFAULT_PORTS,
    ClusterError,
    read_cluster,
    resolve_host,
)
from retailsage.train.local_cluster import deal_objects, free_ports, host_tree_root


class TwoHosts:
    """A fake two-rank collective: the other rank contributes ``other`` to every reduction."""

    engine = "fake"
    world_size = 2

    def __init__(self, rank: int, other: list[np.ndarray]) -> None:
        self.rank = rank
        self.other = other

    def allreduce(self, values: np.ndarray, op: str) -> np.ndarray:
        theirs = self.other.pop(0)
        pair = [values, theirs] if self.rank == 0 else [theirs, values]
        stacked = np.stack([np.asarray(v) for v in pair])
        reduced = {"sum": stacked.sum(axis=0), "min": stacked.min(axis=0)}.get(op, stacked.max(0))
        return reduced.astype(np.asarray(values).dtype)  # a collective keeps the dtype


def test_resolve_host_retries_with_a_growing_wait_then_fails() -> None:
    waits: list[float] = []
    answers = iter([OSError("no such host"), OSError("no such host"), "10.0.0.2"])

    def lookup(host: str) -> str:
        answer = next(answers)
        if isinstance(answer, OSError):
            raise answer
        return answer

    assert resolve_host("algo-2", 60, lookup, waits.append) == "10.0.0.2"
    assert waits == [1.0, 2.0]

    def never(host: str) -> str:
        raise OSError("no such host")

    waits.clear()
    with pytest.raises(ClusterError, match="did not resolve in 100 s"):
        resolve_host("algo-3", 100, never, waits.append)
    assert max(waits) == 30.0 and sum(waits[:-1]) < 100 <= sum(waits)


def test_read_cluster_takes_the_interface_and_the_local_overrides(tmp_path: Path) -> None:
    paths = SageMakerPaths.from_env({"SAGEMAKER_BASE_DIR": str(tmp_path)})
    paths.config_dir.mkdir(parents=True)
    paths.resource_config_file.write_text(json.dumps({"network_interface_name": "eth1"}))
    env = {
        "RETAILSAGE_HOST_ADDRESSES": json.dumps({"algo-1": "127.0.0.1"}),
        "RETAILSAGE_COLLECTIVE_PORTS": json.dumps({"meeting": 40001}),
        "RETAILSAGE_COLLECTIVE_TIMEOUT_S": "5",
    }
    cluster = read_cluster(("algo-1", "algo-2"), "algo-2", paths, env)
    assert cluster.interface == "eth1"
    assert cluster.address("algo-1") == "127.0.0.1"
    assert cluster.ports == {**DEFAULT_PORTS, "meeting": 40001}
    assert cluster.timeout_s == 5 and cluster.is_multi_host
    assert read_cluster(("algo-1",), "algo-1", paths, {}).ports == DEFAULT_PORTS
    with pytest.raises(UserError, match="not one of hosts"):
        read_cluster(("algo-1",), "algo-9", paths, {})
    with pytest.raises(UserError, match="not valid JSON"):
        read_cluster(("algo-1",), "algo-1", paths, {"RETAILSAGE_COLLECTIVE_PORTS": "{"})


def test_allgather_builds_on_a_sum_allreduce() -> None:
    # what rank 1 contributes: its size vector, then its bytes in its slot of the buffer
    mine = json.dumps({"host": "algo-1"}, sort_keys=True).encode()
    theirs = json.dumps({"host": "algo-2"}, sort_keys=True).encode()
    buffer = np.zeros(len(mine) + len(theirs), dtype=np.uint8)
    buffer[len(mine) :] = np.frombuffer(theirs, dtype=np.uint8)
    group = TwoHosts(0, [np.array([0, len(theirs)]), buffer])
    assert allgather_json(group, {"host": "algo-1"}) == [{"host": "algo-1"}, {"host": "algo-2"}]
    assert allgather_json(SINGLE_HOST, [1]) == [[1]]
    assert allgather_array(SINGLE_HOST, np.arange(3.0)).tolist() == [0.0, 1.0, 2.0]
    assert any_host(TwoHosts(1, [np.array([1.0])]), False)
    assert float(global_sum(TwoHosts(0, [np.array([2.0])]), [3.0])[0]) == 5.0


def test_category_codes_and_moments_come_from_every_host() -> None:
    mine = pd.DataFrame({"Country": ["DE", "DE", "FR"], "x": [1.0, 2.0, 3.0], "gap_days": 1.0})
    theirs = {"Country": {"FR": 5, "UK": 1}}
    encoded = json.dumps(theirs, sort_keys=True).encode()
    local = json.dumps({"Country": {"DE": 2, "FR": 1}}, sort_keys=True).encode()
    buffer = np.zeros(len(local) + len(encoded), dtype=np.uint8)
    buffer[len(local) :] = np.frombuffer(encoded, dtype=np.uint8)
    group = TwoHosts(0, [np.array([0, len(encoded)]), buffer])
    spec = learn_spec(mine, "gap_days", (), group)
    assert spec.categories["Country"] == ("FR", "DE", "UK")  # 6, 2, 1 over both hosts
    assert spec.columns == TabularSpec.learn(mine, "gap_days").columns
    # moments over [1, 2, 3] here and [10] there: mean 4, population std sqrt(12.5)
    moments = TwoHosts(0, [np.array([1.0]), np.array(10.0), np.array((10.0 - 4.0) ** 2)])
    mean, std = mean_std(np.array([1.0, 2.0, 3.0]), moments)
    assert float(mean) == 4.0 and float(std) == pytest.approx(np.std([1.0, 2.0, 3.0, 10.0]))


def test_batch_plan_keeps_a_single_hosts_step_count() -> None:
    single = BatchPlan.for_hosts(1000, 256, SINGLE_HOST)
    assert [len(b) for b in single.batches(np.arange(1000))] == [256, 256, 256, 232]
    # 600 rows here, 400 there: 4 steps of 150 rows here (and 100 there) = batch 250 overall
    plan = BatchPlan.for_hosts(600, 256, TwoHosts(0, [np.array([400.0])]))
    batches = list(plan.batches(np.arange(600)))
    assert (plan.steps, len(batches), plan.batch_size) == (4, 4, 150)
    assert np.concatenate(batches).tolist() == list(range(600))
    short = BatchPlan.for_hosts(10, 4, TwoHosts(1, [np.array([30.0])]))
    assert all(len(b) == short.batch_size for b in short.batches(np.arange(10)))


def test_customer_buckets_are_crc32_and_stable() -> None:
    ids = pd.Series(["17850", "13047", None, "17850"], dtype="string")
    buckets = customer_buckets(ids, 4)
    import zlib

    assert buckets.tolist() == [
        zlib.crc32(b"17850") % 4,
        zlib.crc32(b"13047") % 4,
        zlib.crc32(b"") % 4,
        zlib.crc32(b"17850") % 4,
    ]
    assert bucket_count(3) == 6 and bucket_count(0) == 1


def test_sharded_objects_are_dealt_by_sorted_key(tmp_path: Path) -> None:
    files = [tmp_path / f"part-{i:05d}.parquet" for i in (3, 0, 2, 1, 4)]
    dealt = deal_objects(files, 2)
    assert [[p.name[5:10] for p in share] for share in dealt] == [
        ["00000", "00002", "00004"],
        ["00001", "00003"],
    ]
    assert deal_objects(files[:1], 3)[1:] == [[], []]
    assert len(set(free_ports(3))) == 3
    assert host_tree_root(tmp_path / "opt_ml", "algo-1") == tmp_path / "opt_ml"
    assert host_tree_root(tmp_path / "opt_ml", "algo-2") == tmp_path / "opt_ml.algo-2"
