"""Job-level hyperparameters and the split of SageMaker's map into job and family configs.

``hyperparameters.json`` carries one flat string -> string map. The job-level keys (which family,
how to cut the evaluation holdout, how often to checkpoint) live in :class:`JobConfig`; every
other key belongs to the chosen family's ``config_cls``. The valid-keys message lists both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from retailsage.core.errors import HyperparameterError
from retailsage.core.hyperparameters import IGNORED_PREFIXES, check_range, parse_hyperparameters
from retailsage.models.base import ModelFamily
from retailsage.models.registry import MODEL_TYPES, get_family

EvalProtocol = Literal["asof", "p1", "p2cap"]
GapTarget = Literal["asof", "order_gap"]
SEED_MAX = 2**32 - 1
"""Largest ``seed`` every family's libraries accept (scikit-learn's ``random_state`` bound)."""


@dataclass(frozen=True)
class JobConfig:
    """Hyperparameters that steer the training job rather than the model.

    Attributes:
        model_type: the family to train (``pca_kmeans``, ``xgboost`` or ``lstm``).
        target: what the gap families (``xgboost``, ``lstm``) learn: ``asof`` (the default
            unless ``eval_protocol`` is ``p1``/``p2cap``; days
            from an as-of date to the customer's next purchase, capped at ``horizon_days``,
            trained on customer snapshots) or ``order_gap`` (days from each order to the next,
            the per-order target of the ``p1``/``p2cap`` protocols).
        eval_protocol: temporal holdout used when there is no ``validation`` channel: ``asof``
            (score every customer as of the cutoff; the default for ``target=asof``), ``p1``
            (every customer's orders after the cutoff; the default for ``target=order_gap``) or
            ``p2cap`` (the horizon-capped variant).
        eval_cutoff: the holdout's cutoff date (``YYYY-MM-DD``); ``None`` lets the protocol pick
            one from the data.
        horizon_days: days after the cutoff that the holdout covers, in [1, 3650].
        snapshot_every_days: days between the as-of training snapshots (``target=asof``).
        snapshot_count: the most as-of training snapshots, the newest at cutoff - horizon.
        refit_full: after the holdout fit is evaluated (metrics, baselines, quality gate),
            refit the saved model on all the data (``target=asof`` with a temporal holdout:
            snapshots up to the last day - horizon) for the rounds/epochs the holdout fit
            early-stopped at; ``false`` saves the holdout model (newest snapshot at
            cutoff - horizon).
        checkpoint_every: iterations between checkpoints for iterative learners (XGBoost
            rounds; the LSTM checkpoints every epoch), in [1, 100000].
    """

    model_type: str
    eval_protocol: EvalProtocol | None = None
    eval_cutoff: str | None = None
    horizon_days: int = 60
    checkpoint_every: int = 10
    target: GapTarget | None = None
    snapshot_every_days: int = 7
    snapshot_count: int = 30
    refit_full: bool = True

    def __post_init__(self) -> None:
        """Range-check every field.

        Raises:
            HyperparameterError: naming the field, the value and what is allowed.
        """
        if self.model_type not in MODEL_TYPES:
            raise HyperparameterError(
                f"hyperparameter 'model_type': {self.model_type!r} is not a known model type; "
                f"valid values are: {', '.join(MODEL_TYPES)}"
            )
        check_range("horizon_days", self.horizon_days, low=1, high=3650)
        check_range("checkpoint_every", self.checkpoint_every, low=1, high=100_000)
        check_range("snapshot_every_days", self.snapshot_every_days, low=1, high=3650)
        check_range("snapshot_count", self.snapshot_count, low=1, high=1000)
        if (self.gap_target == "asof") != (self.protocol == "asof"):
            raise HyperparameterError(
                f"hyperparameter 'eval_protocol': {self.eval_protocol!r} does not fit "
                f"target={self.target!r}; target=asof is evaluated by eval_protocol=asof, "
                "target=order_gap by p1 or p2cap"
            )
        if self.eval_cutoff is not None:
            try:
                cutoff = pd.Timestamp(self.eval_cutoff)
            except (ValueError, TypeError) as exc:
                raise HyperparameterError(
                    f"hyperparameter 'eval_cutoff': {self.eval_cutoff!r} is not a date; "
                    "use YYYY-MM-DD"
                ) from exc
            if cutoff is pd.NaT or not pd.Timestamp.min <= cutoff <= pd.Timestamp.max:
                raise HyperparameterError(
                    f"hyperparameter 'eval_cutoff': {self.eval_cutoff!r} is outside the "
                    f"supported dates {pd.Timestamp.min.date()} .. {pd.Timestamp.max.date()}"
                )

    @property
    def gap_target(self) -> str:
        """``target``, or ``order_gap`` when only a P1/P2-cap protocol is named, else ``asof``."""
        if self.target is not None:
            return self.target
        return "order_gap" if self.eval_protocol in ("p1", "p2cap") else "asof"

    @property
    def protocol(self) -> str:
        """The evaluation protocol: ``eval_protocol``, or the default for the target."""
        if self.eval_protocol is not None:
            return self.eval_protocol
        return "asof" if self.gap_target == "asof" else "p1"

    @property
    def cutoff(self) -> pd.Timestamp | None:
        """The cutoff as a timestamp, or ``None`` when the protocol picks it."""
        return None if self.eval_cutoff is None else pd.Timestamp(self.eval_cutoff)


JOB_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(JobConfig))


@dataclass(frozen=True)
class ResolvedConfig:
    """Everything the runner needs from the hyperparameters.

    Attributes:
        job: the job-level settings.
        family_cls: the model family class chosen by ``model_type``.
        family_config: an instance of ``family_cls.config_cls``.
    """

    job: JobConfig
    family_cls: type[ModelFamily]
    family_config: Any


def _field_names(config_cls: type[Any]) -> set[str]:
    """Return the init-field names of a config dataclass."""
    return {f.name for f in dataclasses.fields(config_cls) if f.init}


def cuda_available() -> bool:
    """Return True when torch sees a usable CUDA device (torch is imported only here)."""
    import torch

    return bool(torch.cuda.is_available())


def check_device(family_config: Any, is_available: Callable[[], bool] = cuda_available) -> None:
    """Reject ``device=cuda`` on a host without CUDA, before any data is read.

    The check is made here and not in the family's config, because a model trained on a GPU
    must still load (and serve) on a CPU-only endpoint.

    Args:
        family_config: the parsed family config; only a ``device`` field equal to ``cuda``
            is checked.
        is_available: reports whether CUDA is usable on this host.

    Raises:
        HyperparameterError: ``device`` is ``cuda`` and no CUDA device is available.
    """
    if getattr(family_config, "device", None) != "cuda" or is_available():
        return
    raise HyperparameterError(
        "hyperparameter 'device': 'cuda' was requested but no CUDA device is available on this "
        "instance; use a GPU instance type, or device=auto (GPU when present) or device=cpu"
    )


def resolve_config(
    raw: Mapping[str, str],
    family_lookup: Callable[[str], type[ModelFamily]] = get_family,
    has_cuda: Callable[[], bool] | None = None,
) -> ResolvedConfig:
    """Split SageMaker's hyperparameter map into the job config and the family config.

    Args:
        raw: the string -> string map from ``hyperparameters.json`` (values may be JSON-encoded).
        family_lookup: maps ``model_type`` to a family class (the registry by default).
        has_cuda: reports whether CUDA is usable (checked for ``device=cuda``);
            :func:`cuda_available` when omitted.

    Returns:
        The parsed, range-checked configs and the family class.

    Raises:
        HyperparameterError: ``model_type`` missing or unknown, an unknown key (the message
            lists the job keys and the family's keys), a wrong type, an out-of-range or
            non-finite value, a ``seed`` outside [0, 2**32 - 1], or ``device=cuda`` without a
            CUDA device.
    """
    if "model_type" not in raw:
        raise HyperparameterError(
            "hyperparameter 'model_type' is required; valid values are: " + ", ".join(MODEL_TYPES)
        )
    job_raw = {k: v for k, v in raw.items() if k in JOB_KEYS}
    job = parse_hyperparameters(JobConfig, job_raw)
    family_cls = family_lookup(job.model_type)
    family_keys = _field_names(family_cls.config_cls)
    unknown = sorted(
        k
        for k in raw
        if k not in JOB_KEYS and k not in family_keys and not k.startswith(IGNORED_PREFIXES)
    )
    if unknown:
        raise HyperparameterError(
            f"unknown hyperparameter(s) {', '.join(unknown)}; valid keys are: job keys "
            f"{', '.join(JOB_KEYS)}; {job.model_type} keys {', '.join(sorted(family_keys))}"
        )
    family_raw = {k: v for k, v in raw.items() if k not in JOB_KEYS}
    family_config = parse_hyperparameters(family_cls.config_cls, family_raw)
    check_range("seed", getattr(family_config, "seed", None), low=0, high=SEED_MAX)
    check_device(family_config, has_cuda or cuda_available)
    return ResolvedConfig(job=job, family_cls=family_cls, family_config=family_config)
