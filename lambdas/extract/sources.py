"""Find and download the raw transaction files under the source prefix."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from lambdas.common.errors import InvalidInput, NoNewData
from retailsage.data.sources import file_suffix


def source_sizes(s3: Any, bucket: str, prefix: str) -> dict[str, int]:
    """List the transaction files (CSV, CSV.gz, Parquet, xlsx) under ``prefix`` with sizes.

    Args:
        s3: an S3 client.
        bucket: the data bucket.
        prefix: the source key prefix.

    Returns:
        key -> size in bytes, keys sorted (the loader reads files in this order).

    Raises:
        NoNewData: no supported file is there.
    """
    sizes: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        sizes.update(
            (item["Key"], int(item["Size"]))
            for item in page.get("Contents", [])
            if item["Size"] > 0 and file_suffix(Path(item["Key"])) is not None
        )
    if not sizes:
        raise NoNewData(f"no transaction files under s3://{bucket}/{prefix}")
    return dict(sorted(sizes.items()))


def list_source_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    """List the transaction files under ``prefix``, sorted (see :func:`source_sizes`).

    Args:
        s3: an S3 client.
        bucket: the data bucket.
        prefix: the source key prefix.

    Returns:
        The keys, sorted (the loader reads files in this order).

    Raises:
        NoNewData: no supported file is there.
    """
    return list(source_sizes(s3, bucket, prefix))


def download(s3: Any, bucket: str, prefix: str, keys: list[str], directory: Path) -> Path:
    """Download ``keys`` into ``directory``, keeping their paths relative to ``prefix``.

    Args:
        s3: an S3 client.
        bucket: the data bucket.
        prefix: the source prefix (stripped from the local paths).
        keys: the object keys.
        directory: an empty local directory (``/tmp`` in Lambda).

    Returns:
        ``directory``, now holding the files.

    Raises:
        InvalidInput: a key would escape the directory.
    """
    root = directory.resolve()
    for key in keys:
        relative = PurePosixPath(key[len(prefix) :].lstrip("/") or PurePosixPath(key).name)
        target = (root / relative).resolve()
        if root not in target.parents:
            raise InvalidInput(f"object key {key!r} is not a plain path under {prefix!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(target))
    return directory
