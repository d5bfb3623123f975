"""``s3://bucket/key`` helpers."""

from __future__ import annotations


def s3_uri(bucket: str, key: str) -> str:
    """Return ``s3://<bucket>/<key>``.

    Args:
        bucket: the bucket name.
        key: the key or key prefix.

    Returns:
        The URI.
    """
    return f"s3://{bucket}/{key}"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split an S3 URI into bucket and key.

    Args:
        uri: ``s3://<bucket>/<key>``.

    Returns:
        ``(bucket, key)``; the key may be empty.

    Raises:
        ValueError: the text is not an S3 URI.
    """
    if not uri.startswith("s3://") or len(uri) <= 5:
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key
