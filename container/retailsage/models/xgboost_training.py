"""The XGBoost training loop: metrics per round, checkpoints, resume, early stopping."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import xgboost as xgb

from retailsage.core.collective import SINGLE_HOST, Collective, any_host, is_root
from retailsage.models.base import TrainingHooks, TrainingInterrupted
from retailsage.models.checkpoints import (
    checkpoint_path,
    newest_checkpoint,
    prune_checkpoints,
    write_atomically,
)
from retailsage.models.distributed_stats import regression_errors, require_same

LOGGER = logging.getLogger(__name__)
CHECKPOINT_PREFIX = "xgboost"
CHECKPOINT_SUFFIX = ".ubj"
VALIDATION = "validation"


class _HookCallback(xgb.callback.TrainingCallback):
    """Forwards per-round metrics, writes checkpoints and honours stop requests."""

    def __init__(self, hooks: TrainingHooks) -> None:
        self.hooks = hooks
        self.interrupted = False

    def after_iteration(
        self, model: xgb.Booster, epoch: int, evals_log: dict[str, dict[str, Any]]
    ) -> bool:
        """Report metrics, checkpoint every ``checkpoint_every`` rounds; True stops training."""
        rounds = model.num_boosted_rounds()
        for name, history in evals_log.get(VALIDATION, {}).items():
            self.hooks.on_metric(f"{VALIDATION}:{name}", float(history[-1]), rounds)
        if any_host(self.hooks.collective, self.hooks.should_stop()):  # one stops, all stop
            self.save(model, rounds)
            self.interrupted = True
            return True
        if rounds % max(self.hooks.checkpoint_every, 1) == 0:
            self.save(model, rounds)
        return False

    def save(self, model: xgb.Booster, rounds: int) -> None:
        """Write a UBJ checkpoint atomically and prune old ones."""
        directory = self.hooks.checkpoint_dir
        if directory is None or not is_root(self.hooks.collective):
            return
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


def _resume(hooks: TrainingHooks) -> xgb.Booster | None:
    """Load the newest checkpoint, if any."""
    newest = newest_checkpoint(hooks.checkpoint_dir, CHECKPOINT_PREFIX, CHECKPOINT_SUFFIX)
    if newest is None:
        return None
    booster = xgb.Booster()
    booster.load_model(str(newest[1]))
    LOGGER.info("resuming xgboost from %s (%d rounds)", newest[1], newest[0])
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
    hook = _HookCallback(hooks)
    callbacks: list[xgb.callback.TrainingCallback] = [hook]
    evals = [(dval, VALIDATION)] if dval is not None else []
    if dval is not None and early_stopping_rounds is not None:
        callbacks.append(
            xgb.callback.EarlyStopping(
                rounds=early_stopping_rounds,
                metric_name="mae",
                data_name=VALIDATION,
                save_best=True,
            )
        )
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
    return booster
