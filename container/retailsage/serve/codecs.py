"""Content-type codecs for ``/invocations``: ``{mime: decoder}``, ``{mime: encoder}``.

Decoders turn a request body into a typed frame named by the model's
:class:`~retailsage.serve.inputs.InputSchema`; encoders turn the output frame into bytes.
CSV parsing lives in :mod:`retailsage.serve.csv_decoder`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from retailsage.core.errors import BadInput, NotAcceptable, UnsupportedMediaType
from retailsage.serve.csv_decoder import decode_csv, rows_to_frame
from retailsage.serve.inputs import InputSchema, object_column, typed_frame

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
_ALIASES = {
    "application/x-jsonlines": JSONLINES,
    "application/jsonl": JSONLINES,
    "application/x-ndjson": JSONLINES,
    "text/x-csv": CSV,
}
_ERROR_KEYS = frozenset({"error", "message"})

Decoder = Callable[[bytes, InputSchema], pd.DataFrame]
Encoder = Callable[[pd.DataFrame, tuple[str, ...]], bytes]


def media_type(header: str | None) -> tuple[str, dict[str, str]]:
    """Split a Content-Type/Accept item into its lower-case type and parameters.

    Args:
        header: e.g. ``"text/csv; charset=utf-8"``.

    Returns:
        ``("text/csv", {"charset": "utf-8"})``; aliases map to their canonical type.
    """
    main, *params = (header or "").split(";")
    kind = main.strip().lower()
    parsed: dict[str, str] = {}
    for param in params:
        key, _, value = param.partition("=")
        parsed[key.strip().lower()] = value.strip().strip('"')
    return _ALIASES.get(kind, kind), parsed


def request_type(content_type: str | None) -> str:
    """Return the decoder key for a request Content-Type.

    Args:
        content_type: the request header (parameters tolerated; charset must be UTF-8/ASCII).

    Returns:
        One of the keys of :data:`DECODERS`.

    Raises:
        UnsupportedMediaType: missing, unknown type, or a charset other than UTF-8.
    """
    kind, params = media_type(content_type)
    if kind not in DECODERS:
        raise UnsupportedMediaType(
            f"Content-Type {content_type or '(missing)'!r} is not supported; "
            f"use one of: {', '.join(DECODERS)}"
        )
    charset = params.get("charset", "utf-8").lower().replace("_", "-")
    if charset not in ("utf-8", "utf8", "us-ascii", "ascii"):
        raise UnsupportedMediaType(f"charset {charset!r} is not supported; send UTF-8")
    return kind


def response_type(accept: str | None, default: str | None, request_kind: str) -> str:
    """Choose the response type from an Accept header.

    Args:
        accept: the request's Accept header (a comma list; order and ``q`` are honoured).
        default: ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``; ``None`` -> the request's own type.
        request_kind: the request's decoded content type.

    Returns:
        One of the keys of :data:`ENCODERS`.

    Raises:
        NotAcceptable: no listed type can be produced.
    """
    fallback = media_type(default)[0] if default else request_kind
    items = [media_type(item) for item in (accept or "").split(",") if item.strip()]
    ranked = sorted(items, key=lambda item: -_quality(item[1]))
    for kind, params in ranked:
        if _quality(params) <= 0:
            continue
        if kind in ENCODERS:
            return kind
        if kind in ("*/*", "", "application/*", "text/*") and fallback in ENCODERS:
            return fallback
    if not items:
        return fallback if fallback in ENCODERS else JSON
    raise NotAcceptable(
        f"cannot produce any of Accept {accept!r}; available: {', '.join(ENCODERS)}"
    )


def _quality(params: Mapping[str, str]) -> float:
    """Return the ``q`` weight of an Accept item (1.0 by default, 0 if malformed)."""
    try:
        return float(params.get("q", "1"))
    except ValueError:
        return 0.0


def _records_to_frame(records: list[Any], schema: InputSchema, what: str) -> pd.DataFrame:
    """Type a list of JSON records: all objects or all arrays."""
    if not records:
        raise BadInput("no records in the payload")
    if all(isinstance(r, list) for r in records):
        return rows_to_frame(records, schema, what)
    if not all(isinstance(r, dict) for r in records):
        bad = next(i for i, r in enumerate(records) if not isinstance(r, dict))
        raise BadInput(f"{what} {bad + 1} is neither a JSON object nor a JSON array")
    known = schema.known_columns()
    present = [c for c in known if any(c in r for r in records)]
    schema.check_columns(present)
    columns = {c: object_column([r.get(c) for r in records]) for c in present}
    return typed_frame(columns, len(records))


def decode_json(body: bytes, schema: InputSchema) -> pd.DataFrame:
    """Decode ``{"instances": [...]}`` (objects or arrays); a bare list is accepted too.

    Args:
        body: the request bytes.
        schema: the model's input schema.

    Returns:
        The typed frame.

    Raises:
        BadInput: not JSON, no ``instances`` list, or a record that does not fit the schema.
    """
    payload = _loads(body, "body")
    if isinstance(payload, dict):
        payload = payload.get("instances")
    if not isinstance(payload, list):
        raise BadInput('JSON body must be {"instances": [...]} (objects or arrays)')
    return _records_to_frame(payload, schema, "instance")


def decode_jsonlines(body: bytes, schema: InputSchema) -> pd.DataFrame:
    """Decode JSON Lines: one object or array per line.

    Args:
        body: the request bytes.
        schema: the model's input schema.

    Returns:
        The typed frame.

    Raises:
        BadInput: a line is not JSON or does not fit the schema (naming the line).
    """
    lines = body.replace(b"\r\n", b"\n").split(b"\n")
    if lines and not lines[-1].strip():
        lines.pop()
    records = [_loads(line, f"line {index + 1}") for index, line in enumerate(lines)]
    return _records_to_frame(records, schema, "line")


def _loads(text: bytes, where: str) -> Any:
    """Parse JSON, turning every way it can fail on client input into a 400.

    Besides syntax errors: nesting too deep for the parser (``RecursionError``) and integers
    longer than Python's 4,300-digit conversion limit (``ValueError``).
    """
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{where} is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadInput(f"{where} is nested too deeply to decode") from exc
    except ValueError as exc:  # e.g. an integer literal beyond 4,300 digits
        raise BadInput(f"{where} is not valid JSON: {exc}") from exc


DECODERS: dict[str, Decoder] = {CSV: decode_csv, JSON: decode_json, JSONLINES: decode_jsonlines}
"""Request media type -> decoder."""


def decode(body: bytes, content_type: str, schema: InputSchema) -> pd.DataFrame:
    """Decode a request body of a supported type.

    Args:
        body: the raw bytes.
        content_type: the request Content-Type (parameters tolerated).
        schema: the model's input schema.

    Returns:
        The typed frame.

    Raises:
        UnsupportedMediaType: unknown Content-Type.
        BadInput: the body does not fit the type or the schema.
    """
    return DECODERS[request_type(content_type)](body, schema)


def _records(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """Turn an output frame into a list of JSON-safe dicts."""
    names = [c for c in columns if c in frame.columns]
    values = [_python_values(frame[c]) for c in names]
    records = [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
    if "error" not in names:
        return records
    return [_without_nulls(record) for record in records]


def _python_values(column: pd.Series) -> list[Any]:
    """A column as JSON-safe Python values: numpy scalars unwrapped, missing -> None.

    Object columns (the per-line "emit" frame) can hold numpy scalars such as ``float32``,
    which ``json`` cannot encode; non-finite floats become None too.
    """
    if column.dtype.kind == "f":
        column = column.where(np.isfinite(column.to_numpy(dtype=np.float64, na_value=np.nan)))
    values = column.astype(object).where(column.notna(), None).tolist()
    if column.dtype != object:
        return values
    return [_python_scalar(v) for v in values]


def _python_scalar(value: Any) -> Any:
    """Unwrap a numpy scalar; a non-finite float becomes None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _without_nulls(record: dict[str, Any]) -> dict[str, Any]:
    """Batch "emit" mode: a good record drops the error keys, a failed one its null fields."""
    if record["error"] is None:
        return {k: v for k, v in record.items() if k not in _ERROR_KEYS}
    return {k: v for k, v in record.items() if v is not None}


def encode_json(frame: pd.DataFrame, columns: tuple[str, ...]) -> bytes:
    """Encode as ``{"predictions": [{...}, ...]}``.

    Args:
        frame: the output frame (ids, predictions, optional ``error``/``message``).
        columns: the columns to emit, in order (missing ones are skipped).

    Returns:
        UTF-8 JSON bytes.
    """
    return json.dumps({"predictions": _records(frame, columns)}, allow_nan=False).encode()


def encode_jsonlines(frame: pd.DataFrame, columns: tuple[str, ...]) -> bytes:
    """Encode one JSON object per line, with a trailing newline.

    Args:
        frame: the output frame.
        columns: the columns to emit, in order.

    Returns:
        UTF-8 JSON Lines bytes.
    """
    dumps = json.JSONEncoder(allow_nan=False, separators=(", ", ": ")).encode
    records = _records(frame, columns)
    return "".join(dumps(r) + "\n" for r in records).encode()


def encode_csv(frame: pd.DataFrame, columns: tuple[str, ...]) -> bytes:
    """Encode headerless CSV, one line per record, with a trailing newline.

    Booleans are written as ``1``/``0``; a row with an ``error`` holds ``ERROR`` and the
    message instead of predictions (Batch Transform keeps its line alignment).

    Args:
        frame: the output frame.
        columns: the prediction columns, in order.

    Returns:
        UTF-8 CSV bytes.
    """
    names = [c for c in columns if c in frame.columns]
    out = frame[names].copy()
    for name in names:
        if out[name].dtype == bool:
            out[name] = out[name].astype(np.int8)
    failed: list[int] = (
        np.flatnonzero(frame["error"].notna().to_numpy()).tolist()
        if "error" in frame.columns
        else []
    )
    if not failed and len(out) == 1 and all(d.kind in "fiu" for d in out.dtypes):
        # one row: skip to_csv's fixed overhead (the real-time single-record path)
        return (",".join(_csv_scalar(v) for v in out.iloc[0].tolist()) + "\n").encode()
    text = out.to_csv(header=False, index=False, lineterminator="\n")
    if len(failed) == 0:
        return text.encode()
    lines = text.split("\n")
    messages = frame["message"].to_numpy(dtype=object)
    for row in failed:
        lines[row] = f"ERROR,{_csv_field(str(messages[row]))}"
    return "\n".join(lines).encode()


def _csv_field(text: str) -> str:
    """Quote one CSV field the way ``csv.writer`` does (minimal quoting)."""
    if any(c in text for c in (",", '"', "\n", "\r")):
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_scalar(value: Any) -> str:
    """Format one numeric CSV cell like pandas does (NaN -> empty)."""
    if isinstance(value, float) and value != value:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


ENCODERS: dict[str, Encoder] = {CSV: encode_csv, JSON: encode_json, JSONLINES: encode_jsonlines}
"""Response media type -> encoder."""


def encode(frame: pd.DataFrame, accept: str, columns: tuple[str, ...]) -> bytes:
    """Encode an output frame as ``accept`` (already negotiated by :func:`response_type`).

    Args:
        frame: the output frame.
        accept: a key of :data:`ENCODERS`.
        columns: the columns to emit, in order.

    Returns:
        The response body.

    Raises:
        NotAcceptable: ``accept`` is not a known type.
    """
    encoder = ENCODERS.get(accept)
    if encoder is None:
        raise NotAcceptable(f"cannot produce {accept!r}; available: {', '.join(ENCODERS)}")
    return encoder(frame, columns)
