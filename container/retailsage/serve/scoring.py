"""Score a request body, optionally isolating bad records so line alignment survives.

With ``SAGEMAKER_BATCH=true`` and ``RETAILSAGE_BAD_RECORD=emit``, a CSV or JSON Lines payload
that contains bad lines is split until each stretch scores: the whole payload is tried first;
when it is rejected, the lines before the row its error names are tried together, that line
alone, and the rest in halves (plain halves when the error names no row), down to single
lines. A good stretch of lines is decoded and predicted in one pass, so one bad line in a
6 MiB batch costs a few extra passes instead of one model call per line. Every good line gets
its prediction and every bad line an error record in its place, so output line *i* always
belongs to input line *i* (Batch Transform ``AssembleWith=Line`` and ``JoinSource=Input``
keep working). CSV lines with a field count no layout accepts are flagged
from their comma count first, so a payload in the wrong layout costs one pass, not one decode
per line.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from retailsage.core.errors import BadInput
from retailsage.serve.codecs import CSV, DECODERS, JSON
from retailsage.serve.inputs import InputSchema
from retailsage.serve.predictor import Predictor

LINE_BY_LINE = 4
"""Stretches of at most this many lines are scored one line at a time (no more halving)."""
_ROW_HINT = re.compile(r"(?:row|line|record) (\d+)\b")
_ALONE = re.compile(r"(?:row|line|record) 1(?:, |: | (?=has |is ))")


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
    except BadInput as exc:
        if not emit_errors or kind == JSON:
            raise
        hint = _row_hint(exc.message)
    return score_lines(split_lines(body), kind, predictor, explain=explain, whole_failed=hint)


def score_lines(
    lines: list[bytes],
    kind: str,
    predictor: Predictor,
    *,
    explain: bool,
    whole_failed: bool | int | None = False,
) -> pd.DataFrame:
    """Score records by bisection, with an error row for each bad line.

    CSV lines that cannot fit any layout (blank, or a field count the model does not accept)
    are rejected up front from their comma count, without a decode each; the rest are bisected.

    Args:
        lines: the records, one per input line.
        kind: ``text/csv`` or ``application/jsonlines``.
        predictor: the loaded model.
        explain: add per-feature contributions.
        whole_failed: ``False``, or the caller already tried all ``lines`` together and they
            failed: ``True``/``None``, or the 1-based line the error named.

    Returns:
        An object-dtype frame of ``len(lines)`` rows: the outputs of good lines, and for bad
        ones ``error`` (the error name) and ``message`` (naming the line), nulls elsewhere.
    """
    errors = _misshapen_csv_lines(lines, predictor.schema) if kind == CSV else {}
    candidates = [index for index in range(len(lines)) if index not in errors]
    pieces: list[tuple[list[int], pd.DataFrame]] = []
    pending = [(0, len(candidates))] if candidates else []
    if whole_failed is not False and not errors and len(candidates) > LINE_BY_LINE:
        hint = whole_failed if isinstance(whole_failed, int) and whole_failed is not True else None
        pending = _split(0, len(candidates), hint)  # the whole payload was just tried
    while pending:
        start, stop = pending.pop()
        rows = candidates[start:stop]
        if stop - start <= LINE_BY_LINE:
            for index in rows:
                _score_one(lines, index, kind, predictor, explain, pieces, errors)
            continue
        try:
            pieces.append((rows, _predict([lines[i] for i in rows], kind, predictor, explain)))
        except BadInput as exc:
            pending.extend(_split(start, stop, _row_hint(exc.message)))
    return _assemble(pieces, errors, len(lines))


def _misshapen_csv_lines(lines: list[bytes], schema: InputSchema) -> dict[int, str]:
    """Errors of CSV lines whose field count no layout accepts (unquoted lines only).

    The messages are the decoder's own for that line alone (``line 1 has 3 fields; ...``).
    """
    errors: dict[int, str] = {}
    messages: dict[int, str] = {}
    for index, line in enumerate(lines):
        if b'"' in line or b"\r" in line:
            continue  # quoted fields and stray carriage returns: left to the decoder
        width = line.count(b",") + 1 if line else 0
        if width in schema.layouts:
            continue
        if width not in messages:
            messages[width] = "line 1 is empty" if width == 0 else _layout_error(schema, width)
        errors[index] = at_line(index, messages[width])
    return errors


def at_line(index: int, message: str) -> str:
    """An emit-mode error message for input line ``index`` (0-based): ``line N: ...``.

    The decoder saw that line alone, so its message calls it ``line 1``/``row 1``/``record 1``;
    that reference is dropped, leaving one line number: ``line 1 has 2 fields; ...`` becomes
    ``line 778: the line has 2 fields; ...``, ``row 1, column 'x': ...`` becomes
    ``line 5: column 'x': ...``.
    """
    alone = _ALONE.match(message)
    if alone is not None:
        rest = message[alone.end() :]
        message = f"the line {rest}" if rest.startswith(("has ", "is ")) else rest
    return f"line {index + 1}: {message}"


def _layout_error(schema: InputSchema, width: int) -> str:
    """The decoder's message for a one-line body of ``width`` fields."""
    try:
        schema.layout_for(width, "line 1")
    except BadInput as exc:
        return exc.message
    raise AssertionError(f"width {width} has a layout")  # pragma: no cover (callers check)


def _row_hint(message: str) -> int | None:
    """The 1-based row/line a decoder error names first (``row 7, column ...``), if any."""
    match = _ROW_HINT.match(message)
    return int(match.group(1)) if match else None


def _split(start: int, stop: int, hint: int | None) -> list[tuple[int, int]]:
    """Split a failed stretch: around the line its error names, else in halves.

    With a hint, the lines before it (often all good: the decoder names the first bad row of
    a column) are tried together, the named line alone, and the rest in halves. Every stretch
    is still scored for real, so a wrong hint only costs an extra pass.
    """
    if hint is None or not 1 <= hint <= stop - start:
        return _halves(start, stop)
    bad = start + hint - 1
    parts = _halves(bad + 1, stop) if stop - bad - 1 > LINE_BY_LINE else [(bad + 1, stop)]
    parts = [(a, b) for a, b in parts if b > a]
    return [*parts, (bad, bad + 1), *([(start, bad)] if bad > start else [])]


def _halves(start: int, stop: int) -> list[tuple[int, int]]:
    """The two halves of ``[start, stop)``, the first one last (popped first)."""
    middle = (start + stop) // 2
    return [(middle, stop), (start, middle)]


def _predict(lines: list[bytes], kind: str, predictor: Predictor, explain: bool) -> pd.DataFrame:
    """Decode and predict a stretch of lines in one pass."""
    body = b"\n".join(lines) + b"\n"
    return predictor.predict(DECODERS[kind](body, predictor.schema), explain=explain)


def _score_one(
    lines: list[bytes],
    index: int,
    kind: str,
    predictor: Predictor,
    explain: bool,
    pieces: list[tuple[list[int], pd.DataFrame]],
    errors: dict[int, str],
) -> None:
    """Score line ``index`` alone into ``pieces``, or record its error."""
    try:
        pieces.append(([index], _predict(lines[index : index + 1], kind, predictor, explain)))
    except BadInput as exc:
        errors[index] = at_line(index, exc.message)


def _assemble(
    pieces: list[tuple[list[int], pd.DataFrame]], errors: dict[int, str], n_lines: int
) -> pd.DataFrame:
    """Put predicted stretches and error rows back in input order (object dtype, no casts)."""
    columns = list(dict.fromkeys(c for _, piece in pieces for c in piece.columns))
    names = [*columns, "error", "message"]
    cells = np.full((n_lines, len(names)), None, dtype=object)
    for rows, piece in pieces:
        where = [names.index(c) for c in piece.columns]
        cells[np.ix_(rows, where)] = piece.astype(object).to_numpy()
    if errors:
        failed = np.fromiter(errors, dtype=np.intp, count=len(errors))
        cells[failed, len(columns)] = BadInput.error
        cells[failed, len(columns) + 1] = list(errors.values())
    result = pd.DataFrame(cells, columns=names)
    return result.where(result.notna(), None)
