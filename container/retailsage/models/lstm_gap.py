"""PyTorch LSTM predicting days to the next purchase from each row's own gap sequence.

Rows are the gap feature rows of ``retailsage.features.gap``; the sequence and covariate arrays
come from ``retailsage.features.sequences``. CPU by default, CUDA automatically when present
(``device=auto``); seeded and deterministic on CPU. The weights are a ``state_dict`` in
``model.pt`` loaded with ``weights_only=True``; shapes, scalers and encodings live in the
manifest.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression

from retailsage.core.collective import (
    SINGLE_HOST,
    Collective,
    allgather_array,
    global_sum,
    is_distributed,
    is_root,
)
from retailsage.core.errors import ArtifactError, NotFittedError
from retailsage.core.hyperparameters import check_range
from retailsage.data.schema import COUNTRY
from retailsage.features.gap import N_LAGS, TARGET
from retailsage.models.base import TrainingHooks
from retailsage.models.distributed_stats import (
    learn_spec,
    mean_std,
    newest_order,
    shared_validation,
)
from retailsage.models.gap_common import (
    GAP_OUTPUT_COLUMNS,
    drift_inputs,
    filtered_training_rows,
    observed_rows,
    purchase_labels,
    recency_weights,
    target_array,
)
from retailsage.models.lstm_explain import attribution_columns, integrated_gradients
from retailsage.models.lstm_network import (
    GapNetwork,
    NetworkShape,
    covariate_count,
    covariate_scaler,
    is_asof,
    network_inputs,
    step_feature_count,
)
from retailsage.models.lstm_training import LoopSettings, predict_scaled, train_network
from retailsage.models.tabular import TabularSpec

LOGGER = logging.getLogger(__name__)
MODEL_FILE = "model.pt"


@dataclass(frozen=True)
class LSTMGapConfig:
    """Hyperparameters of the LSTM gap model.

    Attributes:
        epochs: maximum training epochs.
        hidden_size: LSTM hidden units (also the head's width).
        num_layers: stacked LSTM layers.
        window_length: gaps per sequence (1..12).
        learning_rate: Adam learning rate.
        batch_size: rows per optimiser step.
        dropout: dropout between LSTM layers and in the head.
        loss: ``l1`` (MAE), ``huber`` or ``mse`` on the scaled target.
        log_target: train on ``log1p(days)`` (standardised) instead of standardised days.
        early_stopping_epochs: patience on validation MAE (0 disables).
        seed: random seed.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
        num_threads: torch CPU threads while training (0 keeps torch's default, one per core;
            1 is fastest for this small network on a busy machine).
        outlier_filter: drop Isolation-Forest outlier customers from the training rows.
        outlier_contamination: expected outlier fraction of customers for that filter.
        exclude_columns: input columns the model ignores (treated as missing).
        recency_halflife_days: weight training rows by ``0.5 ** (age / half-life)``, age
            counted back from the newest training order (0 disables).
    """

    epochs: int = 15
    hidden_size: int = 32
    num_layers: int = 1
    window_length: int = 12
    learning_rate: float = 0.003
    batch_size: int = 512
    dropout: float = 0.3
    loss: Literal["l1", "huber", "mse"] = "l1"
    log_target: bool = False
    early_stopping_epochs: int = 8
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_threads: int = 0
    outlier_filter: bool = False
    outlier_contamination: float = 0.02
    exclude_columns: tuple[str, ...] = ("month",)
    recency_halflife_days: float = 60.0

    def __post_init__(self) -> None:
        """Range-check every value (raises HyperparameterError)."""
        check_range("epochs", self.epochs, low=1, high=10_000)
        check_range("hidden_size", self.hidden_size, low=1, high=4096)
        check_range("num_layers", self.num_layers, low=1, high=8)
        check_range("window_length", self.window_length, low=1, high=N_LAGS)
        check_range("learning_rate", self.learning_rate, low=0.0, high=1.0, low_open=True)
        check_range("batch_size", self.batch_size, low=1, high=1_000_000)
        check_range("dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        check_range("early_stopping_epochs", self.early_stopping_epochs, low=0)
        check_range("num_threads", self.num_threads, low=0, high=1024)
        check_range("recency_halflife_days", self.recency_halflife_days, low=0.0)
        check_range(
            "outlier_contamination", self.outlier_contamination, low=0.0, high=0.5, low_open=True
        )


class LSTMGap:
    """LSTM + covariates + country embedding predicting ``predicted_gap_days``."""

    name: ClassVar[str] = "lstm"
    config_cls: ClassVar[type[Any]] = LSTMGapConfig
    output_columns: ClassVar[tuple[str, ...]] = GAP_OUTPUT_COLUMNS
    format_version: ClassVar[int] = 2

    def __init__(self, config: LSTMGapConfig | None = None) -> None:
        """Store the config; nothing is fitted yet.

        Args:
            config: hyperparameters (defaults when omitted).
        """
        self.config = config or LSTMGapConfig()
        self.spec_: TabularSpec | None = None
        self.network_: GapNetwork | None = None
        self.scaling_: dict[str, Any] = {}
        self.trained_epochs_: int | None = None

    def fit(
        self,
        train: pd.DataFrame,
        validation: pd.DataFrame | None = None,
        *,
        hooks: TrainingHooks | None = None,
    ) -> Self:
        """Fit on gap rows carrying ``gap_days``; early-stop on ``validation`` when given.

        Args:
            train: training rows (gap feature columns plus ``gap_days``).
            validation: optional rows for early stopping and per-epoch metrics.
            hooks: checkpointing, metric and stop hooks from the training runner.

        Returns:
            ``self``.

        Raises:
            DataError: no target column or no usable rows.
            TrainingInterrupted: ``hooks.should_stop()`` turned True (after a checkpoint).
        """
        hooks = hooks or TrainingHooks()
        hosts = hooks.collective  # multi-host: statistics over every host's rows
        spec = learn_spec(train, TARGET, self.config.exclude_columns, hosts)
        rows = filtered_training_rows(train, spec, self.config)
        y = target_array(rows, log_target=self.config.log_target)
        target_mean, target_std = mean_std(y, hosts)
        scaling = {
            "covariates": covariate_scaler(rows, spec, hosts),
            "target_mean": float(target_mean),
            "target_std": float(target_std) or 1.0,
        }
        self.spec_, self.scaling_ = spec, scaling
        device = _device(self.config.device)
        if self.config.num_threads > 0:
            torch.set_num_threads(self.config.num_threads)
        torch.manual_seed(self.config.seed)
        network = GapNetwork(self._shape(spec)).to(device)
        scaled = (y - scaling["target_mean"]) / scaling["target_std"]
        val = None
        if is_distributed(hosts):
            validation = shared_validation(validation, rows, hosts)
        elif validation is not None:
            validation = observed_rows(validation)
        if validation is not None:
            val = (self._inputs(validation), target_array(validation, log_target=False))
        reference = newest_order(rows, hosts) if is_distributed(hosts) else None
        weights = recency_weights(rows, self.config.recency_halflife_days, reference)
        if weights is None:
            weights = np.ones(len(rows))
        trained, self.trained_epochs_ = train_network(
            network, (self._inputs(rows), scaled, weights), val, self._settings(device), hooks
        )
        self.network_ = trained.to("cpu")
        self.scaling_["probability"] = self._fit_probability(rows, weights, hosts)
        return self

    def _fit_probability(
        self, rows: pd.DataFrame, weights: np.ndarray, hosts: Collective = SINGLE_HOST
    ) -> list[float]:
        """Platt scaling: a weighted logistic regression of the purchase label on the output.

        P(purchase within the horizon) = sigmoid(a * scaled output + b), fitted on the training
        rows; log loss is a proper scoring rule, so the probability is calibrated there. On a
        multi-host job rank 0 fits it on every host's gathered (output, label, weight) triples
        and shares ``[a, b]`` (sum-reduced with zeros from the others).

        Returns:
            ``[a, b]``.
        """
        labels = purchase_labels(rows)
        _, network = self._fitted()
        output = predict_scaled(network, self._inputs(rows), torch.device("cpu"))
        if is_distributed(hosts):  # rank 0 fits on every host's rows, the others receive it
            triples = np.column_stack([output, labels, weights]).reshape(-1, 3)
            gathered = allgather_array(hosts, triples)
            fitted = _platt(*gathered.T) if is_root(hosts) else [0.0, 0.0]
            return [float(v) for v in global_sum(hosts, fitted)]
        return _platt(output, labels, weights)

    def refit_config(self) -> LSTMGapConfig:
        """The config of a final refit on all the data: the epochs this fit settled on.

        Returns:
            This config with ``epochs`` = the early-stopped epoch count (every epoch run when
            there was no validation set) and early stopping off (the refit has no holdout).

        Raises:
            NotFittedError: before ``fit``.
        """
        if self.trained_epochs_ is None:
            raise NotFittedError("LSTMGap is not fitted; call fit() first")
        epochs = max(1, int(self.trained_epochs_))
        return dataclasses.replace(self.config, epochs=epochs, early_stopping_epochs=0)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Predict days to the next purchase, one row per input row.

        Args:
            frame: gap rows carrying ``input_columns`` (extra columns are ignored).

        Returns:
            A frame with ``predicted_gap_days`` (>= 0) and ``purchase_probability``, indexed
            like ``frame``.

        Raises:
            NotFittedError: before ``fit``/``load``.
            BadInput: a missing or non-numeric column.
        """
        _, network = self._fitted()
        scaled = predict_scaled(network, self._inputs(frame), torch.device("cpu"))
        slope, intercept = self.scaling_["probability"]
        probability = 1.0 / (1.0 + np.exp(-(slope * scaled + intercept)))
        return pd.DataFrame(
            {GAP_OUTPUT_COLUMNS[0]: self._to_days(scaled), GAP_OUTPUT_COLUMNS[1]: probability},
            index=frame.index,
        )

    def explain(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-prediction input contributions (integrated gradients, see ``lstm_explain``).

        Each row sums to the model output before clipping: the predicted days, or
        ``log1p(predicted days)`` when ``log_target`` is set (as for XGBoost). ``bias`` is the
        output for the reference input (covariates at their training mean, an empty gap
        history, a zero country embedding); the other columns split the difference between the
        row's output and that reference, exactly (the midpoint rule's small residual is spread
        over the row's contributions in proportion to their size). A time step's contribution
        (its gap features and mask bit) goes to the lag column it was built from; columns the
        network does not read (``last_gap``, lags beyond ``window_length``, excluded columns)
        contribute 0.

        Args:
            frame: gap rows carrying ``input_columns``.

        Returns:
            One column per input column plus ``bias``, indexed like ``frame``.

        Raises:
            NotFittedError: before ``fit``/``load``.
            BadInput: a missing or non-numeric column.
        """
        spec, network = self._fitted()
        inputs = self._inputs(frame)
        has_country = COUNTRY in spec.categories
        attributions, _, reference = integrated_gradients(
            network, inputs, country_varies=has_country
        )
        std, mean = self.scaling_["target_std"], self.scaling_["target_mean"]
        names = attribution_columns(self.config.window_length, is_asof(spec))
        used = pd.DataFrame(attributions * std, columns=names, index=frame.index)
        out = used.reindex(columns=list(spec.columns), fill_value=0.0)
        out["bias"] = float(reference) * std + mean
        return out

    def save(self, model_dir: Path) -> dict[str, Any]:
        """Write the ``state_dict`` to ``model.pt``; return shapes and scalers for the manifest.

        Args:
            model_dir: the destination directory.

        Returns:
            Extra manifest fields (``feature_spec``, ``scaling``, ``network``, ``model_file``).
        """
        spec, network = self._fitted()
        torch.save(network.state_dict(), model_dir / MODEL_FILE)
        return {
            "feature_spec": spec.to_dict(),
            "scaling": self.scaling_,
            "network": self._shape(spec).__dict__,
            "model_file": MODEL_FILE,
        }

    @classmethod
    def load(cls, model_dir: Path, manifest: dict[str, Any]) -> Self:
        """Rebuild the network from the manifest shapes and ``model.pt`` (weights only, CPU).

        Args:
            model_dir: the directory ``save`` wrote.
            manifest: the parsed ``manifest.json``.

        Returns:
            A fitted model in eval mode.

        Raises:
            ArtifactError: the weights file is missing or does not match the stored shapes.
        """
        path = model_dir / MODEL_FILE
        if not path.is_file():
            raise ArtifactError(f"{path} is missing; the lstm artifact is incomplete")
        model = cls(LSTMGapConfig(**manifest["config"]))
        network = GapNetwork(NetworkShape(**manifest["network"]))
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            network.load_state_dict(state)
        except (RuntimeError, OSError, KeyError) as exc:
            raise ArtifactError(f"cannot load LSTM weights from {path}: {exc}") from exc
        model.network_ = network.eval()
        model.spec_ = TabularSpec.from_dict(manifest["feature_spec"])
        model.scaling_ = dict(manifest["scaling"])
        return model

    def drift_inputs(self, train: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, ...]]:
        """The rows ``fit`` fitted on (from its ``train``) and the inputs the model ignores.

        Args:
            train: the frame ``fit`` received.

        Returns:
            What :func:`~retailsage.models.gap_common.drift_inputs` returns.
        """
        spec, _ = self._fitted()
        return drift_inputs(train, spec, self.config)

    @property
    def input_columns(self) -> tuple[str, ...]:
        """Gap feature columns in CSV order (known after fit)."""
        spec, _ = self._fitted()
        return spec.columns

    def _fitted(self) -> tuple[TabularSpec, GapNetwork]:
        """Return the learned state or raise NotFittedError."""
        if self.spec_ is None or self.network_ is None:
            raise NotFittedError("LSTMGap is not fitted; call fit() or load() first")
        return self.spec_, self.network_

    def _inputs(self, frame: pd.DataFrame) -> Any:
        """Build network inputs with the learned spec and covariate scaler."""
        if self.spec_ is None:
            raise NotFittedError("LSTMGap is not fitted; call fit() or load() first")
        return network_inputs(
            frame, self.spec_, self.config.window_length, self.scaling_["covariates"]
        )

    def _shape(self, spec: TabularSpec) -> NetworkShape:
        """The network sizes for this config and spec."""
        return NetworkShape(
            step_features=step_feature_count(),
            covariates=covariate_count(is_asof(spec)),
            countries=spec.cardinality(COUNTRY) if COUNTRY in spec.categories else 1,
            hidden_size=self.config.hidden_size,
            num_layers=self.config.num_layers,
            dropout=self.config.dropout,
        )

    def _settings(self, device: torch.device) -> LoopSettings:
        """Loop settings from the config."""
        return LoopSettings(
            epochs=self.config.epochs,
            batch_size=self.config.batch_size,
            learning_rate=self.config.learning_rate,
            loss=self.config.loss,
            seed=self.config.seed,
            patience=self.config.early_stopping_epochs or None,
            device=device,
            to_days=self._to_days,
        )

    def _to_days(self, scaled: np.ndarray) -> np.ndarray:
        """Undo the target scaling; clip at zero days."""
        y = scaled * self.scaling_["target_std"] + self.scaling_["target_mean"]
        days = np.expm1(y) if self.config.log_target else y
        return np.clip(days, 0.0, None)


def _platt(output: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> list[float]:
    """Fit ``[a, b]`` of sigmoid(a * output + b) to the labels (weighted logistic regression)."""
    if labels.min() == labels.max():
        return [0.0, float(np.log((labels[0] + 1e-3) / (1.0 - labels[0] + 1e-3)))]
    platt = LogisticRegression(C=1e4).fit(output[:, None], labels, sample_weight=weights)
    return [float(platt.coef_[0, 0]), float(platt.intercept_[0])]


def _device(choice: str) -> torch.device:
    """Resolve ``auto`` to CUDA when available, else CPU."""
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")
