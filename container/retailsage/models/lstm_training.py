"""The LSTM training loop: seeded epochs, metrics, early stopping, checkpoints and resume.

Every epoch reseeds torch and draws its shuffle from ``(seed, epoch)``, so an interrupted run
resumed from the checkpoint of epoch ``k`` continues exactly as the uninterrupted run would
(on CPU). Checkpoints hold tensors and plain numbers only and load with ``weights_only=True``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from retailsage.core.collective import any_host, is_root
from retailsage.models.base import TrainingHooks, TrainingInterrupted
from retailsage.models.checkpoints import (
    checkpoint_path,
    prune_checkpoints,
    resume_checkpoint,
    write_atomically,
)
from retailsage.models.data_parallel import BatchPlan, data_parallel
from retailsage.models.distributed_stats import regression_errors, require_same
from retailsage.models.lstm_network import GapNetwork, NetworkInputs

LOGGER = logging.getLogger(__name__)
CHECKPOINT_PREFIX = "lstm"
CHECKPOINT_SUFFIX = ".pt"
_LOSSES: dict[str, Callable[..., nn.Module]] = {
    "l1": nn.L1Loss,
    "huber": nn.SmoothL1Loss,
    "mse": nn.MSELoss,
}


@dataclass
class LoopSettings:
    """What the loop needs from the config, plus the device and target inverse transform."""

    epochs: int
    batch_size: int
    learning_rate: float
    loss: str
    seed: int
    patience: int | None
    device: torch.device
    to_days: Callable[[np.ndarray], np.ndarray]


@dataclass
class LoopState:
    """Progress that a checkpoint carries."""

    epoch: int = 0
    best_score: float = float("inf")
    bad_epochs: int = 0
    best_model: dict[str, torch.Tensor] = field(default_factory=dict)
    best_epoch: int = 0
    """Epochs trained up to the best validation MAE (0: no validation yet)."""


def train_network(
    network: GapNetwork,
    train: tuple[NetworkInputs, np.ndarray, np.ndarray],
    validation: tuple[NetworkInputs, np.ndarray] | None,
    settings: LoopSettings,
    hooks: TrainingHooks,
) -> tuple[GapNetwork, int]:
    """Train ``network`` in place (resuming from a checkpoint) and return it in eval mode.

    Args:
        network: a freshly initialised network on ``settings.device``.
        train: inputs, scaled targets and per-row sample weights.
        validation: inputs and targets in days, or ``None``.
        settings: epochs, batch size, optimiser and stopping settings.
        hooks: checkpoint, metric and stop hooks.

    Returns:
        The network with its best (or final) weights, in eval mode, and the epochs those
        weights were trained for (the early-stopped count: the best epoch with validation,
        else every epoch run).

    Raises:
        TrainingInterrupted: a stop was requested; the epoch's checkpoint is written first.
    """
    optimizer = torch.optim.Adam(network.parameters(), lr=settings.learning_rate)
    state = _resume(network, optimizer, hooks)
    require_same(state.epoch, hooks.collective, "the checkpoint epoch to resume from")
    trained = data_parallel(network, hooks.collective)  # DDP over the hosts, or the network
    plan = BatchPlan.for_hosts(len(train[1]), settings.batch_size, hooks.collective)
    loss_fn = _LOSSES[settings.loss](reduction="none")
    tensors = train[0].tensors(settings.device)
    target = torch.from_numpy(train[1].astype(np.float32)).to(settings.device)
    weight = torch.from_numpy(train[2].astype(np.float32)).to(settings.device)
    while state.epoch < settings.epochs and not _patience_spent(state, settings):
        _run_epoch(trained, optimizer, loss_fn, tensors, (target, weight), settings, plan, state)
        state.epoch += 1
        if validation is not None:
            _validate(network, validation, settings, state, hooks)
        _checkpoint(network, optimizer, state, hooks)
        if any_host(hooks.collective, hooks.should_stop()):  # one host stopping stops all
            raise TrainingInterrupted(f"stop requested after epoch {state.epoch}")
    epochs = state.epoch
    if validation is not None and state.best_model:
        network.load_state_dict(state.best_model)
        epochs = state.best_epoch or state.epoch
    return network.eval(), epochs


def predict_scaled(network: GapNetwork, inputs: NetworkInputs, device: torch.device) -> np.ndarray:
    """Run the network in inference mode and return its scaled outputs as float64."""
    if len(inputs.steps) == 0:  # a host of a multi-host job may hold no validation rows
        return np.zeros(0, dtype=np.float64)
    network.eval()
    with torch.inference_mode():
        out = network(*inputs.tensors(device))
    return out.detach().cpu().numpy().astype(np.float64)


def _patience_spent(state: LoopState, settings: LoopSettings) -> bool:
    """True once validation MAE has not improved for ``patience`` epochs."""
    return settings.patience is not None and state.bad_epochs >= settings.patience


def _run_epoch(
    network: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    tensors: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    labels: tuple[torch.Tensor, torch.Tensor],
    settings: LoopSettings,
    plan: BatchPlan,
    state: LoopState,
) -> None:
    """One pass over the shuffled training rows, seeded by ``(seed, epoch)``; weighted loss."""
    target, weight = labels
    epoch = state.epoch
    torch.manual_seed(settings.seed * 100_003 + epoch)
    order = np.random.default_rng([settings.seed, epoch, *plan.rank_key]).permutation(len(target))
    network.train()
    for rows in plan.batches(order):
        batch = torch.from_numpy(rows).to(settings.device)
        optimizer.zero_grad()
        output = network(*(t.index_select(0, batch) for t in tensors))
        batch_weight = weight.index_select(0, batch)
        per_row = loss_fn(output, target.index_select(0, batch))
        loss = (per_row * batch_weight).sum() / batch_weight.sum()
        loss.backward()
        optimizer.step()


def _validate(
    network: GapNetwork,
    validation: tuple[NetworkInputs, np.ndarray],
    settings: LoopSettings,
    state: LoopState,
    hooks: TrainingHooks,
) -> None:
    """Report validation MAE/RMSE in days and track the best weights."""
    predicted = settings.to_days(predict_scaled(network, validation[0], settings.device))
    metrics = regression_errors(validation[1], predicted, hooks.collective)
    for name, value in metrics.items():
        hooks.on_metric(f"validation:{name}", value, state.epoch)
    if metrics["mae"] < state.best_score:
        state.best_score = metrics["mae"]
        state.bad_epochs = 0
        state.best_model = {k: v.detach().clone() for k, v in network.state_dict().items()}
        state.best_epoch = state.epoch
    else:
        state.bad_epochs += 1


def _checkpoint(
    network: GapNetwork, optimizer: torch.optim.Optimizer, state: LoopState, hooks: TrainingHooks
) -> None:
    """Write this epoch's checkpoint atomically and keep only the last few."""
    directory = hooks.checkpoint_dir
    if directory is None or not is_root(hooks.collective):
        return
    payload: dict[str, Any] = {
        "epoch": state.epoch,
        "best_score": state.best_score,
        "bad_epochs": state.bad_epochs,
        "best_model": state.best_model,
        "best_epoch": state.best_epoch,
        "model": network.state_dict(),
        "optimizer": optimizer.state_dict(),
        "fingerprint": hooks.fingerprint,
    }
    path = checkpoint_path(directory, CHECKPOINT_PREFIX, state.epoch, CHECKPOINT_SUFFIX)
    write_atomically(path, lambda temp: torch.save(payload, temp))
    prune_checkpoints(directory, CHECKPOINT_PREFIX, CHECKPOINT_SUFFIX)


def _load_checkpoint(path: Path) -> tuple[str | None, dict[str, Any]]:
    """Load one checkpoint (tensors and plain values only); return its fingerprint and payload."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    fingerprint = payload.get("fingerprint")
    return (fingerprint if isinstance(fingerprint, str) else None), payload


def _resume(
    network: GapNetwork, optimizer: torch.optim.Optimizer, hooks: TrainingHooks
) -> LoopState:
    """Restore weights, optimiser and progress from the newest matching checkpoint, if any."""
    found = resume_checkpoint(
        hooks.checkpoint_dir,
        CHECKPOINT_PREFIX,
        CHECKPOINT_SUFFIX,
        hooks.fingerprint,
        _load_checkpoint,
        hooks.notes,
    )
    if found is None:
        return LoopState()
    payload = found[1]
    network.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    return LoopState(
        epoch=int(payload["epoch"]),
        best_score=float(payload["best_score"]),
        bad_epochs=int(payload["bad_epochs"]),
        best_model=dict(payload["best_model"]),
        best_epoch=int(payload.get("best_epoch", 0)),
    )
