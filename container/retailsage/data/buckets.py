"""Customer buckets: split transaction lines into objects that each hold whole customers.

A multi-host training job reads a ``ShardedByS3Key`` channel: every host gets some of the
objects. The gap features of an order depend on that customer's earlier orders only, so when
every object holds all lines of its customers, each host featurizes its own customers exactly
as one host would featurize everything. The bucket of a customer is ``crc32(CustomerID) % K``:
stable across processes, machines and Python versions (Python's ``hash`` of a string is salted
per process, so it must never decide a bucket).
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from retailsage.features.gap import CUSTOMER_ID

OBJECTS_PER_HOST = 2
"""Default ``m`` of ``K = m x instance_count`` objects: a little slack for uneven customers."""


def bucket_count(instance_count: int, objects_per_host: int = OBJECTS_PER_HOST) -> int:
    """Return ``K``, the number of customer-bucket objects for a training job.

    Args:
        instance_count: training instances.
        objects_per_host: ``m``.

    Returns:
        ``m * instance_count`` (at least 1).
    """
    return max(1, objects_per_host * instance_count)


def customer_buckets(customer_ids: pd.Series, buckets: int) -> np.ndarray:
    """Return each line's bucket: ``crc32(str(CustomerID)) % buckets``.

    Args:
        customer_ids: the ``CustomerID`` column (missing ids land in bucket 0 with the empty id).
        buckets: ``K``.

    Returns:
        int64 bucket numbers in ``[0, buckets)``.
    """
    ids = customer_ids.astype("string").fillna("")
    codes, uniques = pd.factorize(ids)
    per_id = np.fromiter(
        (zlib.crc32(str(value).encode("utf-8")) % buckets for value in uniques),
        dtype=np.int64,
        count=len(uniques),
    )
    return per_id[codes] if len(codes) else np.zeros(0, dtype=np.int64)


def split_by_customer(lines: pd.DataFrame, buckets: int) -> list[pd.DataFrame]:
    """Split transaction lines into ``buckets`` frames, each holding whole customers.

    Args:
        lines: transaction lines with ``CustomerID``.
        buckets: ``K``.

    Returns:
        ``K`` frames (some may be empty), each in the input's row order.
    """
    bucket = customer_buckets(lines[CUSTOMER_ID], buckets)
    return [lines.loc[bucket == k] for k in range(buckets)]
