r"""Typed hyperparameters: SageMaker's string -> string map into a frozen, validated dataclass.

SageMaker delivers every hyperparameter value as a string. The SageMaker Python SDK (>= 2.110)
additionally JSON-encodes each value (``"\"xgboost\""``, ``"100"``) while Step Functions and the
raw API send plain strings; :func:`parse_hyperparameters` accepts both. Range checks live in each
config's ``__post_init__`` and raise :class:`HyperparameterError` through :func:`check_range`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from retailsage.core.errors import HyperparameterError

T = TypeVar("T")

IGNORED_PREFIXES = ("_", "sagemaker_")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""Integers outside the signed 64-bit range are no valid value of any consumer (numpy, XGBoost)."""


def _unquote(raw: str) -> str:
    """Strip one layer of JSON string quoting, if the value is a JSON string literal."""
    text = raw.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError:
            return text
        if isinstance(decoded, str):
            return decoded
    return text


def _coerce(name: str, raw: object, annotation: Any) -> Any:
    """Convert one raw value to the field's annotated type, or raise HyperparameterError."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        text = _unquote(str(raw))
        if text.lower() in ("", "none", "null"):
            return None
        return _coerce(name, text, non_none[0])
    if origin is typing.Literal:
        text = _unquote(str(raw))
        if text not in args:
            allowed = ", ".join(repr(a) for a in args)
            raise HyperparameterError(
                f"hyperparameter {name!r}: {text!r} is not one of the allowed values ({allowed})"
            )
        return text
    if origin is tuple:
        items = _list_items(name, _unquote(str(raw)))
        return tuple(_coerce(name, item, args[0]) for item in items)
    return _coerce_scalar(name, _unquote(str(raw)), annotation)


def _list_items(name: str, text: str) -> list[object]:
    """Split a list value: a JSON array of scalars (``["a","b"]``) or comma-separated text."""
    if not text.startswith("["):
        return [p for p in text.split(",") if p]
    try:
        items = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise HyperparameterError(
            f"hyperparameter {name!r}: {text[:80]!r} is not a valid JSON list ({exc}); "
            'use a JSON array such as ["a", "b"] or comma-separated values a,b'
        ) from exc
    if not isinstance(items, list) or any(
        isinstance(item, (list, dict)) or item is None for item in items
    ):
        raise HyperparameterError(
            f"hyperparameter {name!r}: {text[:80]!r} must be a flat list of strings or numbers"
        )
    return items


def _coerce_scalar(name: str, text: str, annotation: Any) -> Any:
    """Convert one unquoted string to bool, int, float or str."""
    try:
        if annotation is bool:
            lowered = text.lower()
            if lowered not in ("true", "false"):
                raise ValueError(text)
            return lowered == "true"
        if annotation is int:
            if text.lstrip("+-").isdigit():
                whole = int(text)
            else:
                as_float = float(text)
                if not as_float.is_integer():
                    raise ValueError(text)
                whole = int(as_float)
            if not INT64_MIN <= whole <= INT64_MAX:
                raise ValueError(text)
            return whole
        if annotation is float:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError(text)
            return value
    except (ValueError, OverflowError) as exc:
        kind = getattr(annotation, "__name__", str(annotation))
        raise HyperparameterError(
            f"hyperparameter {name!r}: {text!r} is not a valid {kind}"
            + (" (use 'true' or 'false')" if annotation is bool else "")
            + (" (a finite number is required)" if annotation is float else "")
            + (" (a whole number within the 64-bit range is required)" if annotation is int else "")
        ) from exc
    return text


def parse_hyperparameters(config_cls: type[T], raw: Mapping[str, object]) -> T:
    """Parse a SageMaker hyperparameter map into a validated config dataclass.

    Keys beginning ``_`` or ``sagemaker_`` are ignored (platform-injected). Any other key that is
    not a field of ``config_cls`` is a user error listing the valid keys.

    Args:
        config_cls: a frozen dataclass whose field types drive the coercion.
        raw: the string -> string map (values may be JSON-encoded).

    Returns:
        An instance of ``config_cls``; its ``__post_init__`` has range-checked every value.

    Raises:
        HyperparameterError: unknown key, wrong type, or out-of-range value.
    """
    if not dataclasses.is_dataclass(config_cls):
        raise TypeError(f"{config_cls!r} is not a dataclass")
    hints = typing.get_type_hints(config_cls)
    fields = {f.name for f in dataclasses.fields(config_cls) if f.init}
    values: dict[str, Any] = {}
    unknown: list[str] = []
    for key, value in raw.items():
        if key.startswith(IGNORED_PREFIXES):
            continue
        if key not in fields:
            unknown.append(key)
            continue
        values[key] = _coerce(key, value, hints[key])
    if unknown:
        raise HyperparameterError(
            f"unknown hyperparameter(s) {', '.join(sorted(unknown))}; "
            f"valid keys are: {', '.join(sorted(fields))}"
        )
    return config_cls(**values)


def check_range(
    name: str,
    value: float | int | None,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Raise HyperparameterError unless ``value`` lies within the interval.

    Args:
        name: the hyperparameter name, for the message.
        value: the value to check; ``None`` passes (optional fields).
        low: lower bound, or ``None`` for unbounded.
        high: upper bound, or ``None`` for unbounded.
        low_open: exclude the lower bound itself.
        high_open: exclude the upper bound itself.

    Raises:
        HyperparameterError: naming the field, the value and the allowed range; NaN and
            infinities are always rejected (a range only ever admits finite numbers).
    """
    if value is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise HyperparameterError(f"hyperparameter {name!r}: {value!r} is not a finite number")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise HyperparameterError(
            f"hyperparameter {name!r}: {value!r} is out of range; allowed {left}{lo}, {hi}{right}"
        )


def to_hyperparameters(config: object) -> dict[str, str]:
    """Render a config dataclass back to SageMaker's string -> string map.

    Args:
        config: a dataclass instance.

    Returns:
        Every field as a plain (not JSON-quoted) string; tuples comma-joined; None omitted.
    """
    out: dict[str, str] = {}
    for field in dataclasses.fields(config):  # type: ignore[arg-type]
        value = getattr(config, field.name)
        if value is None:
            continue
        if isinstance(value, bool):
            out[field.name] = "true" if value else "false"
        elif isinstance(value, tuple):
            out[field.name] = ",".join(str(v) for v in value)
        else:
            out[field.name] = str(value)
    return out
