"""Integrated-gradients explanations of the LSTM gap network, attributed to input columns.

Integrated gradients (Sundararajan et al., 2017) integrate the network's gradient along the
straight line from a reference input ``b`` to the row's input ``x``; per input element the
attribution is ``(x - b) * mean_alpha grad f(b + alpha (x - b))``, and by completeness the
attributions sum to ``f(x) - f(b)``. The path integral is approximated with the midpoint rule
(``steps`` points, all rows of a chunk evaluated in one batched forward/backward pass); the
small Riemann residual is then spread over the row's attributions in proportion to their
magnitudes, so every row sums to ``f(x) - f(b)`` exactly (up to float rounding).

The reference ``b`` is zeros in the network's input space: the standardised covariates at
their training mean, an empty gap history (every step padded: values and mask bit 0) and a
zero country embedding vector.

Network inputs map back to gap feature columns as follows: the features and the mask bit of
time step ``t`` belong to the lag column that step was built from (``gap_lag_k``), covariate
``j`` to its own column, the country embedding to ``Country``. Columns the network does not
read (``last_gap``, lags beyond the window, excluded columns) get 0.
"""

from __future__ import annotations

import numpy as np
import torch

from retailsage.data.schema import COUNTRY
from retailsage.features.gap import LAG_COLUMNS
from retailsage.features.sequences import covariate_columns
from retailsage.models.lstm_network import GapNetwork, NetworkInputs

DEFAULT_STEPS = 32
"""Midpoint-rule points along the path (the residual they leave is redistributed)."""

_CHUNK_ELEMENTS = 8192
"""Rows x steps evaluated per forward/backward pass (bounds memory on large batches)."""


def attribution_columns(window: int, asof: bool) -> list[str]:
    """Name the column each attribution of :func:`integrated_gradients` belongs to, in order.

    Args:
        window: the sequence length (steps run oldest -> newest: ``gap_lag_window`` first).
        asof: the network reads the as-of covariates too.

    Returns:
        Step columns, then covariate columns, then ``Country``.
    """
    steps = list(LAG_COLUMNS[:window][::-1])
    return [*steps, *covariate_columns(asof), COUNTRY]


def integrated_gradients(
    network: GapNetwork,
    inputs: NetworkInputs,
    steps: int = DEFAULT_STEPS,
    *,
    country_varies: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Attribute the network's scaled output of each row to its inputs.

    Args:
        network: the fitted network (put in eval mode; weights are not changed).
        inputs: the rows' network inputs.
        steps: midpoint-rule points along the path from the reference to the input.
        country_varies: False when the model has no country input (every row holds code 0):
            the reference then keeps that code's embedding and the country attribution is 0.

    Returns:
        ``(attributions, output, reference)``: float64 ``[n, window + covariates + 1]``
        attributions (per time step, per covariate, then the country embedding, in
        :func:`attribution_columns` order), the scaled outputs ``f(x)`` ``[n]`` and the
        reference output ``f(b)`` (a scalar array). Each row of ``attributions`` sums to
        ``output - reference``.
    """
    network.eval()
    n = len(inputs.steps)
    window = inputs.steps.shape[1]
    width = window + inputs.covariates.shape[1] + 1
    if n == 0:
        return np.zeros((0, width)), np.zeros(0), np.zeros(())
    step_x, cov_x, country = inputs.tensors(torch.device("cpu"))
    with torch.no_grad():
        emb_x = network.country(country)
        output = network(step_x, cov_x, country).double()
        reference = _forward_embedded(
            network,
            torch.zeros_like(step_x[:1]),
            torch.zeros_like(cov_x[:1]),
            emb_x[:1] * 0 if country_varies else emb_x[:1],
        ).double()
        emb_delta = emb_x if country_varies else emb_x * 0
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps
    chunk = max(1, _CHUNK_ELEMENTS // steps)
    blocks = []
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        rows = (step_x[part], cov_x[part], emb_delta[part])
        blocks.append(_chunk_attributions(network, rows, alphas, emb_x[:1] - emb_delta[:1]))
    raw = torch.cat(blocks).double().numpy()
    target = (output - reference).numpy()
    return _close_residual(raw, target), output.numpy(), reference.numpy()[0]


def _forward_embedded(
    network: GapNetwork, steps: torch.Tensor, covariates: torch.Tensor, embedded: torch.Tensor
) -> torch.Tensor:
    """The network's forward pass with the country embedding already looked up."""
    _, (hidden, _) = network.lstm(steps)
    joined = torch.cat([hidden[-1], covariates, embedded], dim=1)
    out: torch.Tensor = network.head(joined).squeeze(1)
    return out


def _chunk_attributions(
    network: GapNetwork,
    rows: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    alphas: torch.Tensor,
    emb_reference: torch.Tensor,
) -> torch.Tensor:
    """Midpoint-rule integrated gradients of a chunk of rows, summed to column groups.

    ``rows`` hold each input minus the reference (the reference is zero except, for a model
    without a country input, the embedding: ``emb_reference``).
    """
    step_x, cov_x, emb_x = rows
    m = len(alphas)

    def path(x: torch.Tensor) -> torch.Tensor:
        scale = alphas.view(m, *([1] * x.dim()))
        return (scale * x.unsqueeze(0)).reshape(m * len(x), *x.shape[1:])

    path_steps = path(step_x).requires_grad_(True)
    path_cov = path(cov_x).requires_grad_(True)
    path_emb = (path(emb_x) + emb_reference).requires_grad_(True)
    out = _forward_embedded(network, path_steps, path_cov, path_emb)
    grads = torch.autograd.grad(out.sum(), (path_steps, path_cov, path_emb))
    mean = [g.reshape(m, -1, *g.shape[1:]).mean(dim=0) for g in grads]
    per_step = (mean[0] * step_x).sum(dim=2)  # the step's features and its mask bit
    per_cov = mean[1] * cov_x
    per_country = (mean[2] * emb_x).sum(dim=1, keepdim=True)
    return torch.cat([per_step, per_cov, per_country], dim=1).detach()


def _close_residual(raw: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Spread each row's Riemann residual over its attributions in proportion to ``|a|``.

    A row whose attributions are all zero (its input equals the reference) keeps zeros; its
    target is then zero up to float rounding as well.
    """
    residual = target - raw.sum(axis=1)
    magnitude = np.abs(raw)
    total = magnitude.sum(axis=1, keepdims=True)
    share = np.divide(magnitude, total, out=np.zeros_like(magnitude), where=total > 0)
    return raw + share * residual[:, None]
