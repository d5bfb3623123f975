"""The LSTM gap network and the arrays it consumes.

Each row is self-contained: the sequence is the row's own last ``window_length`` gaps (from
``retailsage.features.sequences``, oldest -> newest, left-padded), each step carrying the
sequence features plus its mask bit so the network can tell padding from a zero-day gap. The
final hidden state is concatenated with the standardised per-row covariates and a learned
embedding of the country code, then a small MLP head predicts the (scaled) target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from retailsage.core.collective import SINGLE_HOST, Collective
from retailsage.data.schema import COUNTRY
from retailsage.features.asof import RECENCY
from retailsage.features.sequences import (
    STEP_FEATURES,
    covariate_array,
    covariate_columns,
    sequence_arrays,
)
from retailsage.models.distributed_stats import mean_std
from retailsage.models.tabular import TabularSpec

COUNTRY_EMBEDDING = 4


@dataclass(frozen=True)
class NetworkShape:
    """Sizes that define the network's parameter shapes (stored in the manifest).

    Attributes:
        step_features: inputs per time step (sequence features plus the mask bit).
        covariates: per-row covariates.
        countries: country codes, the unknown code included.
        hidden_size: LSTM hidden units (the head uses the same width).
        num_layers: stacked LSTM layers.
        dropout: dropout between LSTM layers and in the head.
    """

    step_features: int
    covariates: int
    countries: int
    hidden_size: int
    num_layers: int
    dropout: float


class GapNetwork(nn.Module):
    """LSTM over the gap sequence + covariates + country embedding -> one output."""

    def __init__(self, shape: NetworkShape) -> None:
        """Build the layers.

        Args:
            shape: the sizes.
        """
        super().__init__()
        self.lstm = nn.LSTM(
            input_size=shape.step_features,
            hidden_size=shape.hidden_size,
            num_layers=shape.num_layers,
            batch_first=True,
            dropout=shape.dropout if shape.num_layers > 1 else 0.0,
        )
        self.country = nn.Embedding(shape.countries, COUNTRY_EMBEDDING)
        width = shape.hidden_size + shape.covariates + COUNTRY_EMBEDDING
        self.head = nn.Sequential(
            nn.Linear(width, shape.hidden_size),
            nn.ReLU(),
            nn.Dropout(shape.dropout),
            nn.Linear(shape.hidden_size, 1),
        )

    def forward(
        self, steps: torch.Tensor, covariates: torch.Tensor, country: torch.Tensor
    ) -> torch.Tensor:
        """Return one scaled prediction per row.

        Args:
            steps: ``[n, window, step_features]``.
            covariates: ``[n, covariates]`` (standardised).
            country: ``[n]`` int64 codes.

        Returns:
            ``[n]``.
        """
        _, (hidden, _) = self.lstm(steps)
        joined = torch.cat([hidden[-1], covariates, self.country(country)], dim=1)
        out: torch.Tensor = self.head(joined).squeeze(1)
        return out


@dataclass(frozen=True)
class NetworkInputs:
    """Numpy inputs of the network for a batch of rows."""

    steps: np.ndarray
    covariates: np.ndarray
    country: np.ndarray

    def tensors(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return the three inputs as tensors on ``device``."""
        return (
            torch.from_numpy(self.steps).to(device),
            torch.from_numpy(self.covariates).to(device),
            torch.from_numpy(self.country).to(device),
        )


def network_inputs(
    frame: pd.DataFrame, spec: TabularSpec, window: int, scaler: dict[str, Any]
) -> NetworkInputs:
    """Validate gap rows and build the network inputs.

    Args:
        frame: gap training or snapshot rows carrying ``spec.columns``.
        spec: the learned input spec (validation and country codes).
        window: sequence length.
        scaler: ``{"mean": [...], "std": [...]}`` of the covariates.

    Returns:
        float32 steps/covariates and int64 country codes.

    Raises:
        BadInput: a missing column or a non-numeric value.
    """
    numeric = spec.encode_frame(frame)
    values, mask = sequence_arrays(numeric, window)
    steps = np.concatenate([values, mask[..., None].astype(np.float32)], axis=2)
    mean = np.asarray(scaler["mean"], dtype=np.float32)
    std = np.asarray(scaler["std"], dtype=np.float32)
    covariates = (covariate_array(numeric, is_asof(spec)) - mean) / std
    if COUNTRY in spec.categories:
        country = np.nan_to_num(numeric[COUNTRY].to_numpy()).astype(np.int64)
    else:
        country = np.zeros(len(numeric), dtype=np.int64)
    return NetworkInputs(steps, covariates.astype(np.float32), country)


def covariate_scaler(
    frame: pd.DataFrame, spec: TabularSpec, collective: Collective = SINGLE_HOST
) -> dict[str, list[float]]:
    """Learn the covariates' mean and standard deviation on training rows.

    Args:
        frame: training rows (this host's, on a multi-host job).
        spec: the learned input spec.
        collective: the training hosts; the moments are taken over all of their rows.

    Returns:
        JSON-safe ``{"mean": [...], "std": [...]}`` in ``covariate_columns()`` order.
    """
    numeric = spec.encode_frame(frame)
    covariates = covariate_array(numeric, is_asof(spec)).astype(np.float64)
    mean, std = mean_std(covariates, collective)
    return {
        "mean": mean.tolist(),
        "std": np.where(std > 0, std, 1.0).tolist(),
    }


def step_feature_count() -> int:
    """Inputs per time step: the sequence features plus the mask bit."""
    return len(STEP_FEATURES) + 1


def covariate_count(asof: bool = False) -> int:
    """Number of per-row covariates (more for as-of snapshot rows)."""
    return len(covariate_columns(asof))


def is_asof(spec: TabularSpec) -> bool:
    """Whether the spec was learned on as-of snapshot rows (they carry the recency)."""
    return RECENCY in spec.columns
