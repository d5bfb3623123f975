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
import json
import logging
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from retailsage.core.errors import PlatformError, UserError
from retailsage.serve.invocations_client import (
    BatchStrategy,
    InvocationsClient,
    execution_parameters,
    mini_batches,
)
from retailsage.serve.local_server import ServerProcess

__all__ = [
    "BatchTransformResult",
    "FileResult",
    "ServerProcess",
    "execution_parameters",
    "mini_batches",
    "run_batch_transform",
]

logger = logging.getLogger(__name__)


SplitType = Literal["Line", "None"]
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


def _count_lines(data: bytes) -> int:
    """Number of lines, the last counted even without a trailing newline."""
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def _transform_file(
    client: InvocationsClient,
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
    client = InvocationsClient(endpoint_url, invocation_timeout_s)
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
        The process exit code: 0, 1 when a file failed, 2 for an unusable setting or endpoint.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        return _transform_and_report(args)
    except UserError as exc:  # e.g. --max-payload-mb out of range, a non-loopback endpoint
        logger.error("UserError: %s", exc)
        return 2


def _transform_and_report(args: argparse.Namespace) -> int:
    """Everything :func:`main` does after parsing: transform, print the summary."""
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
