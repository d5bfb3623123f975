"""Moving objects between (moto) S3 and local directories, as SageMaker's data plane does."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from retailsage.core.errors import UserError


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into bucket and key.

    Args:
        uri: an S3 URI.

    Returns:
        ``(bucket, key)``; the key may be empty or end with ``/`` (a prefix).

    Raises:
        UserError: the URI is not an ``s3://`` URI with a bucket.
    """
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise UserError(f"{uri!r} is not an s3://bucket/key URI")
    return parsed.netloc, parsed.path.lstrip("/")


def list_keys(s3: Any, uri: str) -> list[str]:
    """List the object keys under an S3 prefix (what ``S3DataType: S3Prefix`` selects).

    Args:
        s3: a boto3 S3 client.
        uri: the ``s3://bucket/prefix`` URI.

    Returns:
        The keys, sorted; "directory marker" keys ending in ``/`` are left out.
    """
    bucket, prefix = parse_s3_uri(uri)
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return sorted(key for key in keys if not key.endswith("/"))


def download_prefix(s3: Any, uri: str, target: Path) -> list[Path]:
    """Download every object under a prefix, keeping the key layout below the prefix.

    Args:
        s3: a boto3 S3 client.
        uri: the ``s3://bucket/prefix`` URI.
        target: the local directory to fill.

    Returns:
        The local files written, in key order.

    Raises:
        UserError: nothing exists under the prefix.
    """
    bucket, prefix = parse_s3_uri(uri)
    keys = list_keys(s3, uri)
    if not keys:
        raise UserError(f"no objects under {uri}")
    files: list[Path] = []
    for key in keys:
        relative = key[len(prefix) :].lstrip("/") or Path(key).name
        local = target / relative
        local.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(local))
        files.append(local)
    return files


def upload_file(s3: Any, source: Path, uri: str) -> str:
    """Upload one file to an exact S3 URI.

    Args:
        s3: a boto3 S3 client.
        source: the local file.
        uri: the destination ``s3://bucket/key``.

    Returns:
        ``uri``.
    """
    bucket, key = parse_s3_uri(uri)
    s3.upload_file(str(source), bucket, key)
    return uri


def upload_tree(s3: Any, directory: Path, uri: str) -> list[str]:
    """Upload every file of a directory under a prefix, keeping relative paths (checkpoints).

    Args:
        s3: a boto3 S3 client.
        directory: the local directory (missing: nothing uploaded).
        uri: the destination ``s3://bucket/prefix``.

    Returns:
        The URIs written.
    """
    files = sorted(p for p in directory.rglob("*") if p.is_file()) if directory.is_dir() else []
    prefix = uri.rstrip("/")
    return [upload_file(s3, p, f"{prefix}/{p.relative_to(directory).as_posix()}") for p in files]


def upload_tar(s3: Any, directory: Path, uri: str) -> str | None:
    """Pack a directory (files at the archive root) and upload it, as SageMaker's ``output.tar.gz``.

    Args:
        s3: a boto3 S3 client.
        directory: the directory to pack.
        uri: the destination ``s3://bucket/key``.

    Returns:
        ``uri``, or ``None`` when the directory holds no files (nothing uploaded).
    """
    files = sorted(p for p in directory.rglob("*") if p.is_file()) if directory.is_dir() else []
    if not files:
        return None
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in files:
            archive.add(path, arcname=path.relative_to(directory).as_posix(), recursive=False)
    bucket, key = parse_s3_uri(uri)
    s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
    return uri


def download_model(s3: Any, uri: str, target: Path) -> Path:
    """Download ``model.tar.gz`` and extract it into ``target`` (SageMaker's ``/opt/ml/model``).

    Extraction uses tarfile's ``data`` filter: no absolute paths, links or devices.

    Args:
        s3: a boto3 S3 client.
        uri: the ``ModelDataUrl``.
        target: the model directory to fill.

    Returns:
        ``target``.

    Raises:
        UserError: the archive is missing or not a tar.gz.
    """
    bucket, key = parse_s3_uri(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey as exc:
        raise UserError(f"model artifact {uri} does not exist") from exc
    target.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            archive.extractall(target, filter="data")
    except tarfile.TarError as exc:
        raise UserError(f"model artifact {uri} is not a valid tar.gz: {exc}") from exc
    return target
