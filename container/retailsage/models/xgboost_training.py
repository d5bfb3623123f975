"""The XGBoost training loop: metrics per round, checkpoints, resume, early stopping.

Early stopping is tracked here rather than by ``xgb.callback.EarlyStopping`` because its state
(best round, best MAE, rounds without improvement) must travel with each checkpoint: a resumed
job then stops at the very round the uninterrupted job would have. A checkpoint stores that
state and the job fingerprint as booster attributes, which UBJ files keep.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from retailsage.core.collective import SINGLE_HOST, Collective, any_host, is_root
from retailsage.models.base import TrainingHooks, TrainingInterrupted
from retailsage.models.checkpoints import (
    checkpoint_path,
    prune_checkpoints,
    resume_checkpoint,
    write_atomically,
)
from retailsage.models.distributed_stats import regression_errors, require_same

LOGGER = logging.getLogger(__name__)
CHECKPOINT_PREFIX = "xgboost"
CHECKPOINT_SUFFIX = ".ubj"
VALIDATION = "validation"
ATTR_FINGERPRINT = "retailsage_fingerprint"
ATTR_BEST_ITERATION = "retailsage_best_iteration"
ATTR_BEST_SCORE = "retailsage_best_score"
ATTR_STALE_ROUNDS = "retailsage_stale_rounds"
CHECKPOINT_ATTRS = (ATTR_FINGERPRINT, ATTR_BEST_ITERATION, ATTR_BEST_SCORE, ATTR_STALE_ROUNDS)


@dataclass
class StoppingState:
    """Early-stopping progress; a checkpoint carries it so a resumed job stops where it would.

    Attributes:
        best_iteration: 0-based round with the lowest validation MAE so far (``None``: none).
        best_score: that MAE.
        stale_rounds: rounds since the last improvement.
    """

    best_iteration: int | None = None
    best_score: float = math.inf
    stale_rounds: int = 0

    def to_attrs(self) -> dict[str, str]:
        """The booster attributes that store this state."""
        return {
            ATTR_BEST_ITERATION: str(-1 if self.best_iteration is None else self.best_iteration),
            ATTR_BEST_SCORE: repr(self.best_score),
            ATTR_STALE_ROUNDS: str(self.stale_rounds),
        }

    @classmethod
    def from_booster(cls, booster: xgb.Booster) -> StoppingState:
        """Read the state a checkpoint stored (defaults for a checkpoint without one)."""
        best = int(booster.attr(ATTR_BEST_ITERATION) or -1)
        return cls(
            best_iteration=best if best >= 0 else None,
            best_score=float(booster.attr(ATTR_BEST_SCORE) or "inf"),
            stale_rounds=int(booster.attr(ATTR_STALE_ROUNDS) or 0),
        )


class _HookCallback(xgb.callback.TrainingCallback):
    """Forwards metrics, early-stops on validation MAE, writes checkpoints, honours stops."""

    def __init__(
        self,
        hooks: TrainingHooks,
        patience: int | None,
        state: StoppingState | None = None,
        total_rounds: int | None = None,
    ) -> None:
        self.hooks = hooks
        self.patience = patience
        self.total_rounds = total_rounds
        self.state = state or StoppingState()
        self.interrupted = False

    def spent(self) -> bool:
        """True once validation MAE has not improved for ``patience`` rounds."""
        return self.patience is not None and self.state.stale_rounds >= self.patience

    def before_iteration(
        self, model: xgb.Booster, epoch: int, evals_log: dict[str, dict[str, Any]]
    ) -> bool:
        """Stop before the first round of a job resumed after its patience was spent."""
        return self.spent()

    def after_iteration(
        self, model: xgb.Booster, epoch: int, evals_log: dict[str, dict[str, Any]]
    ) -> bool:
        """Report metrics, update early stopping, checkpoint; True stops training."""
        rounds = model.num_boosted_rounds()
        history = evals_log.get(VALIDATION, {})
        for name, values in history.items():
            self.hooks.on_metric(f"{VALIDATION}:{name}", float(values[-1]), rounds)
        if self.patience is not None and "mae" in history:
            self._track(float(history["mae"][-1]), rounds - 1)
        if any_host(self.hooks.collective, self.hooks.should_stop()):  # one stops, all stop
            self.save(model, rounds)
            self.interrupted = True
            return True
        # the last round is always kept: a rerun of a finished job then resumes at its end and
        # trains nothing, so it saves the identical model (XGBoost does not store its sampling
        # RNG, so rounds trained again after a resume draw other row and column samples)
        last = rounds == self.total_rounds
        if self.spent() or last or rounds % max(self.hooks.checkpoint_every, 1) == 0:
            self.save(model, rounds)
        return self.spent()

    def _track(self, score: float, iteration: int) -> None:
        """Record one round's validation MAE (strict improvement resets the count)."""
        if score < self.state.best_score:
            self.state = StoppingState(iteration, score, 0)
        else:
            self.state.stale_rounds += 1

    def save(self, model: xgb.Booster, rounds: int) -> None:
        """Write a UBJ checkpoint (with fingerprint and stopping state) atomically; prune."""
        directory = self.hooks.checkpoint_dir
        if directory is None or not is_root(self.hooks.collective):
            return
        model.set_attr(**self.state.to_attrs(), **{ATTR_FINGERPRINT: self.hooks.fingerprint})
        path = checkpoint_path(directory, CHECKPOINT_PREFIX, rounds, CHECKPOINT_SUFFIX)
        write_atomically(path, lambda temp: temp.write_bytes(bytes(model.save_raw("ubj"))))
        prune_checkpoints(directory, CHECKPOINT_PREFIX, CHECKPOINT_SUFFIX)


def _metric_fn(log_target: bool, hosts: Collective = SINGLE_HOST) -> Any:
    """Build the custom metric: MAE and RMSE in days (after ``expm1`` for a log target).

    On a multi-host job the errors are summed over every host's validation rows, so every
    host sees the same figures and early stopping stops them all at the same round.
    """

    def metric(predt: np.ndarray, dmatrix: xgb.DMatrix) -> list[tuple[str, float]]:
        label = dmatrix.get_label().astype(np.float64)
        pred = predt.astype(np.float64)
        if log_target:
            label, pred = np.expm1(label), np.expm1(pred)
        values = regression_errors(label, np.clip(pred, 0.0, None), hosts)
        return [("rmse", values["rmse"]), ("mae", values["mae"])]

    return metric


def _load_checkpoint(path: Path) -> tuple[str | None, xgb.Booster]:
    """Load one checkpoint; return its fingerprint and the booster."""
    booster = xgb.Booster()
    booster.load_model(str(path))
    return booster.attr(ATTR_FINGERPRINT), booster


def _resume(hooks: TrainingHooks) -> xgb.Booster | None:
    """Load the newest checkpoint written for this job's fingerprint, if any."""
    found = resume_checkpoint(
        hooks.checkpoint_dir,
        CHECKPOINT_PREFIX,
        CHECKPOINT_SUFFIX,
        hooks.fingerprint,
        _load_checkpoint,
        hooks.notes,
    )
    return None if found is None else found[1]


def _finish(booster: xgb.Booster, state: StoppingState | None) -> xgb.Booster:
    """Cut the booster to its best round (early stopping) and drop the checkpoint attributes."""
    if state is not None and state.best_iteration is not None:
        best = state.best_iteration
        if booster.num_boosted_rounds() > best + 1:
            booster = booster[: best + 1]
        booster.set_attr(best_iteration=str(best), best_score=str(state.best_score))
    booster.set_attr(**dict.fromkeys(CHECKPOINT_ATTRS))
    return booster


def train_booster(
    params: dict[str, Any],
    dtrain: xgb.DMatrix,
    dval: xgb.DMatrix | None,
    *,
    num_round: int,
    early_stopping_rounds: int | None,
    log_target: bool,
    hooks: TrainingHooks,
) -> xgb.Booster:
    """Train (or resume) a booster for ``num_round`` rounds in total.

    Args:
        params: booster parameters.
        dtrain: training matrix with labels.
        dval: validation matrix (metrics and early stopping) or ``None``.
        num_round: total rounds, counting rounds restored from a checkpoint.
        early_stopping_rounds: patience on validation MAE (``None`` disables).
        log_target: labels are ``log1p`` days.
        hooks: checkpoint, metric and stop hooks.

    Returns:
        The booster, cut to its best round when early stopping triggered.

    Raises:
        TrainingInterrupted: a stop was requested; the checkpoint is written first.
    """
    start = _resume(hooks)
    done = start.num_boosted_rounds() if start is not None else 0
    require_same(done, hooks.collective, "the checkpoint round to resume from")
    patience = early_stopping_rounds if dval is not None else None
    state = StoppingState.from_booster(start) if start is not None else StoppingState()
    hook = _HookCallback(hooks, patience, state, total_rounds=num_round)
    callbacks: list[xgb.callback.TrainingCallback] = [hook]
    evals = [(dval, VALIDATION)] if dval is not None else []
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=max(num_round - done, 0),
        evals=evals,
        custom_metric=_metric_fn(log_target, hooks.collective) if evals else None,
        callbacks=callbacks,
        xgb_model=start,
        verbose_eval=False,
    )
    if hook.interrupted:
        raise TrainingInterrupted(
            f"stop requested after {booster.num_boosted_rounds()} rounds; checkpoint written"
        )
    return _finish(booster, hook.state if patience is not None else None)
