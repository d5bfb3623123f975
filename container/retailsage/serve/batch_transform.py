"""A local Batch Transform runner: what SageMaker does between S3 and ``/invocations``.

For each input file: split it by line (``SplitType=Line``), pack consecutive lines into
MultiRecord mini-batches no larger than ``MaxPayloadInMB`` (never mixing files), post them to
the endpoint with up to ``MaxConcurrentTransforms`` requests in flight, and assemble the
responses in input order into ``<input name>.out`` (``AssembleWith=Line``). A file whose
request fails gets no ``.out`` file and is reported, as in SageMaker; other files go on.
Only loopback endpoints are accepted.

CLI: ``python -m retailsage.serve.batch_transform --model-dir DIR INPUT... --output-dir OUT``
(starts a local server with ``SAGEMAKER_BATCH=true``) or ``--endpoint URL`` for a running one.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import numpy as np

from retailsage.core.errors import PlatformError, UserError
from retailsage.serve.local_server import ServerProcess

__all__ = ["BatchTransformResult", "FileResult", "ServerProcess", "run_batch_transform"]

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_RETRIES = 3
"""Retries of a request whose connection failed (``InvocationsMaxRetries`` default)."""

SplitType = Literal["Line", "None"]
BatchStrategy = Literal["MultiRecord", "SingleRecord"]
AssembleWith = Literal["Line", "None"]


@dataclass(frozen=True)
class FileResult:
    """The outcome of one input file.

    Attributes:
        input: the input file.
        output: the ``.out`` file written (None when the file failed).
        records_in: input records (lines).
        records_out: output records (lines).
        requests: mini-batches posted.
        error: why the file failed, or None.
    """

    input: Path
    output: Path | None
    records_in: int
    records_out: int
    requests: int
    error: str | None = None


@dataclass
class BatchTransformResult:
    """The outcome of a whole run.

    Attributes:
        files: one result per input file, in input order.
        seconds: wall time of the run.
    """

    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def records_in(self) -> int:
        """Input records over all files."""
        return sum(f.records_in for f in self.files)

    @property
    def records_out(self) -> int:
        """Output records over all files."""
        return sum(f.records_out for f in self.files)

    @property
    def failed(self) -> list[FileResult]:
        """Files that produced no output."""
        return [f for f in self.files if f.error is not None]


class _Client:
    """Thread-local keep-alive connections to one loopback endpoint."""

    def __init__(self, endpoint_url: str, timeout_s: float) -> None:
        parts = urlsplit(endpoint_url)
        if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
            raise UserError(
                f"endpoint {endpoint_url!r} is not a loopback http URL; the local runner only "
                "talks to 127.0.0.1"
            )
        self.host = parts.hostname
        self.port = parts.port or 80
        self.timeout_s = timeout_s
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            self._local.connection = connection
        return connection

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Send one request, reconnecting and retrying when the connection breaks."""
        for attempt in range(MAX_RETRIES + 1):
            connection = self._connection()
            try:
                connection.request(method, path, body=body, headers=headers or {})
                response = connection.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException, TimeoutError) as exc:
                connection.close()
                self._local.connection = None
                if attempt == MAX_RETRIES:
                    raise PlatformError(f"{method} {path} failed: {exc}") from exc
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")


def mini_batches(
    data: bytes, max_bytes: int, strategy: BatchStrategy
) -> Iterator[tuple[int, int, int]]:
    """Yield ``(start, end, n_records)`` byte ranges of whole lines, each <= ``max_bytes``.

    Args:
        data: the file contents (newline-terminated lines; the last may lack one).
        max_bytes: the payload limit.
        strategy: ``MultiRecord`` packs lines greedily; ``SingleRecord`` sends one per request.

    Yields:
        Byte ranges in file order.

    Raises:
        UserError: one line alone exceeds the limit.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(raw == 10) + 1
    if ends.size == 0 or ends[-1] != len(data):
        ends = np.append(ends, len(data))
    sizes = np.diff(ends, prepend=0)
    if sizes.size and sizes.max() > max_bytes:
        line = int(np.argmax(sizes)) + 1
        raise UserError(f"line {line} ({sizes.max()} bytes) exceeds MaxPayloadInMB")
    start_line = 0
    while start_line < ends.size:
        start = int(ends[start_line - 1]) if start_line else 0
        if strategy == "SingleRecord":
            stop_line = start_line + 1
        else:
            stop_line = int(np.searchsorted(ends, start + max_bytes, side="right"))
        yield start, int(ends[stop_line - 1]), stop_line - start_line
        start_line = stop_line


def _count_lines(data: bytes) -> int:
    """Number of lines, the last counted even without a trailing newline."""
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def _transform_file(
    client: _Client,
    pool: ThreadPoolExecutor,
    path: Path,
    output_dir: Path,
    headers: dict[str, str],
    *,
    max_bytes: int,
    split_type: SplitType,
    strategy: BatchStrategy,
    assemble_with: AssembleWith,
) -> FileResult:
    """Transform one file; never raises for request failures (they are reported)."""
    data = path.read_bytes()
    records_in = _count_lines(data)
    try:
        if split_type == "None":
            if len(data) > max_bytes:
                raise UserError(f"{path.name} ({len(data)} bytes) exceeds MaxPayloadInMB")
            ranges = [(0, len(data), records_in)]
        else:
            ranges = list(mini_batches(data, max_bytes, strategy))
        futures = [
            pool.submit(client.request, "POST", "/invocations", data[a:b], headers)
            for a, b, _ in ranges
            if b > a
        ]
        parts = []
        for future in futures:
            status, body = future.result()
            if status != 200:
                raise UserError(f"/invocations answered {status}: {body[:500]!r}")
            if assemble_with == "Line" and body and not body.endswith(b"\n"):
                body += b"\n"
            parts.append(body)
    except (UserError, PlatformError) as exc:
        logger.error("%s failed: %s", path, exc)
        return FileResult(path, None, records_in, 0, 0, error=str(exc))
    output = output_dir / f"{path.name}.out"
    payload = b"".join(parts)
    output.write_bytes(payload)
    return FileResult(path, output, records_in, _count_lines(payload), len(futures))


def execution_parameters(endpoint_url: str, timeout_s: float = 10.0) -> dict[str, object]:
    """GET ``/execution-parameters`` (empty dict if the container does not offer it).

    Args:
        endpoint_url: the loopback server URL.
        timeout_s: socket timeout.

    Returns:
        The JSON answer, e.g. ``{"MaxConcurrentTransforms": 2, ...}``.
    """
    status, body = _Client(endpoint_url, timeout_s).request("GET", "/execution-parameters")
    if status != 200:
        return {}
    answer = json.loads(body)
    return answer if isinstance(answer, dict) else {}


def run_batch_transform(
    endpoint_url: str,
    inputs: Sequence[Path],
    output_dir: Path,
    *,
    content_type: str,
    accept: str,
    max_payload_mb: int = 6,
    max_concurrent: int | None = None,
    split_type: SplitType = "Line",
    batch_strategy: BatchStrategy = "MultiRecord",
    assemble_with: AssembleWith = "Line",
    invocation_timeout_s: float = 600.0,
) -> BatchTransformResult:
    """Run a local Batch Transform over ``inputs`` against a running server.

    Args:
        endpoint_url: loopback base URL, e.g. ``ServerProcess.url``.
        inputs: input files (each gets ``<name>.out`` in ``output_dir``).
        output_dir: where outputs go (created).
        content_type: request Content-Type (``text/csv``, ``application/jsonlines``...).
        accept: response Accept type.
        max_payload_mb: MaxPayloadInMB, 1-100.
        max_concurrent: MaxConcurrentTransforms; asks ``/execution-parameters`` when None.
        split_type: ``Line`` or ``None`` (whole file per request).
        batch_strategy: ``MultiRecord`` or ``SingleRecord``.
        assemble_with: ``Line`` (newline-terminated records) or ``None`` (concatenate).
        invocation_timeout_s: per-request timeout (InvocationsTimeoutInSeconds).

    Returns:
        Records in/out per file and the wall time.

    Raises:
        UserError: a non-loopback endpoint or an out-of-range setting.
    """
    if not 1 <= max_payload_mb <= 100:
        raise UserError(f"max_payload_mb={max_payload_mb} is out of range [1, 100]")
    started = time.perf_counter()
    client = _Client(endpoint_url, invocation_timeout_s)
    if max_concurrent is None:
        proposed = execution_parameters(endpoint_url).get("MaxConcurrentTransforms", 1)
        max_concurrent = proposed if isinstance(proposed, int) and proposed > 0 else 1
    output_dir.mkdir(parents=True, exist_ok=True)
    headers = {"Content-Type": content_type, "Accept": accept}
    result = BatchTransformResult()
    with ThreadPoolExecutor(max_workers=max_concurrent) as pool:
        for path in inputs:
            result.files.append(
                _transform_file(
                    client,
                    pool,
                    Path(path),
                    output_dir,
                    headers,
                    max_bytes=max_payload_mb * 1024 * 1024,
                    split_type=split_type,
                    strategy=batch_strategy,
                    assemble_with=assemble_with,
                )
            )
    result.seconds = time.perf_counter() - started
    return result


def _input_files(paths: Sequence[str]) -> list[Path]:
    """Expand directories into their files (sorted); keep files as given."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        files.extend(sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path])
    return files


def _parser() -> argparse.ArgumentParser:
    """Command-line options (names follow CreateTransformJob)."""
    parser = argparse.ArgumentParser(prog="python -m retailsage.serve.batch_transform")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--endpoint", help="a running loopback server, e.g. http://127.0.0.1:8080")
    target.add_argument("--model-dir", type=Path, help="start a local server for this model")
    parser.add_argument("inputs", nargs="+", help="input files or directories")
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--content-type", default="text/csv")
    parser.add_argument("--accept", default="text/csv")
    parser.add_argument("--max-payload-mb", type=int, default=6)
    parser.add_argument("--max-concurrent", type=int, default=None)
    parser.add_argument("--split-type", choices=("Line", "None"), default="Line")
    parser.add_argument(
        "--batch-strategy", choices=("MultiRecord", "SingleRecord"), default="MultiRecord"
    )
    parser.add_argument("--assemble-with", choices=("Line", "None"), default="Line")
    parser.add_argument("--workers", type=int, default=None, help="server workers (--model-dir)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; print a JSON summary; exit 1 when any file failed.

    Args:
        argv: arguments (``sys.argv[1:]`` when None).

    Returns:
        The process exit code.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    options = {
        "content_type": args.content_type,
        "accept": args.accept,
        "max_payload_mb": args.max_payload_mb,
        "max_concurrent": args.max_concurrent,
        "split_type": args.split_type,
        "batch_strategy": args.batch_strategy,
        "assemble_with": args.assemble_with,
    }
    inputs = _input_files(args.inputs)
    if args.endpoint:
        result = run_batch_transform(args.endpoint, inputs, args.output_dir, **options)
    else:
        env = {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(args.max_payload_mb)}
        if args.workers:
            env["SAGEMAKER_MODEL_SERVER_WORKERS"] = str(args.workers)
        with ServerProcess(args.model_dir, env=env) as server:
            result = run_batch_transform(server.url, inputs, args.output_dir, **options)
    summary = {
        "seconds": round(result.seconds, 3),
        "records_in": result.records_in,
        "records_out": result.records_out,
        "files": [
            {
                "input": str(f.input),
                "output": str(f.output) if f.output else None,
                "records_in": f.records_in,
                "records_out": f.records_out,
                "error": f.error,
            }
            for f in result.files
        ],
    }
    print(json.dumps(summary, indent=2))
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
