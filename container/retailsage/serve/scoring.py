"""Score a request body, optionally isolating bad records so line alignment survives.

With ``SAGEMAKER_BATCH=true`` and ``RETAILSAGE_BAD_RECORD=emit``, a CSV or JSON Lines payload
that contains bad lines is re-scored line by line: every good line gets its prediction and
every bad line an error record in its place, so output line *i* always belongs to input line
*i* (Batch Transform ``AssembleWith=Line`` and ``JoinSource=Input`` keep working). The fast
path (the whole payload at once) is taken first; the per-line path only runs on failure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retailsage.core.errors import BadInput
from retailsage.serve.codecs import DECODERS, JSON
from retailsage.serve.predictor import Predictor


def split_lines(body: bytes) -> list[bytes]:
    """Split a line-oriented body into records (a final trailing newline ends the last one).

    Args:
        body: CSV or JSON Lines bytes.

    Returns:
        One item per input line, carriage returns stripped; blank lines are kept (records).
    """
    lines = body.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def score(
    body: bytes, kind: str, predictor: Predictor, *, explain: bool, emit_errors: bool
) -> pd.DataFrame:
    """Decode and predict a whole payload.

    Args:
        body: the request body (non-empty).
        kind: the decoded request media type (a key of ``DECODERS``).
        predictor: the loaded model.
        explain: add per-feature contributions.
        emit_errors: on a bad record, emit an error row in its place instead of failing
            (line-oriented types only; ``application/json`` always fails as a whole).

    Returns:
        The output frame, one row per input record.

    Raises:
        BadInput: the payload is bad and ``emit_errors`` is off (or not applicable).
    """
    try:
        return predictor.predict(DECODERS[kind](body, predictor.schema), explain=explain)
    except BadInput:
        if not emit_errors or kind == JSON:
            raise
    return score_lines(split_lines(body), kind, predictor, explain=explain)


def score_lines(
    lines: list[bytes], kind: str, predictor: Predictor, *, explain: bool
) -> pd.DataFrame:
    """Score records one line at a time, with an error row for each bad one.

    Args:
        lines: the records, one per input line.
        kind: ``text/csv`` or ``application/jsonlines``.
        predictor: the loaded model.
        explain: add per-feature contributions.

    Returns:
        An object-dtype frame of ``len(lines)`` rows; bad rows carry ``error`` (the error
        name) and ``message`` (naming the line) and nulls elsewhere.
    """
    decoder = DECODERS[kind]
    frames: dict[int, pd.DataFrame] = {}
    errors: dict[int, str] = {}
    for index, line in enumerate(lines):
        try:
            frames[index] = decoder(line, predictor.schema)
        except BadInput as exc:
            errors[index] = f"line {index + 1}: {exc.message}"
    outputs = _predict_good(frames, predictor, explain, errors)
    columns = list(dict.fromkeys(c for out in outputs.values() for c in out.columns))
    result = pd.DataFrame(
        np.full((len(lines), len(columns) + 2), None, dtype=object),
        columns=[*columns, "error", "message"],
    )
    for index, out in outputs.items():
        result.loc[index, list(out.columns)] = out.iloc[0].astype(object).to_numpy()
    if errors:
        rows = list(errors)
        result.loc[rows, "error"] = BadInput.error
        result.loc[rows, "message"] = list(errors.values())
    return result


def _predict_good(
    frames: dict[int, pd.DataFrame], predictor: Predictor, explain: bool, errors: dict[int, str]
) -> dict[int, pd.DataFrame]:
    """Predict the decoded lines together, or one by one if the batch is rejected."""
    if not frames:
        return {}
    try:
        joined = pd.concat(frames.values(), ignore_index=True)
        together = predictor.predict(joined, explain=explain)
        return {index: together.iloc[[i]] for i, index in enumerate(frames)}
    except BadInput:
        pass
    outputs: dict[int, pd.DataFrame] = {}
    for index, frame in frames.items():
        try:
            outputs[index] = predictor.predict(frame, explain=explain)
        except BadInput as exc:
            errors[index] = f"line {index + 1}: {exc.message}"
    return outputs
