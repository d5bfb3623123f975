"""XGBoost regressor for days-to-next-purchase, with checkpoints and per-row explanations.

Inputs are the gap feature rows (``retailsage.features.gap``); string columns such as
``Country`` are encoded with a mapping learned at fit time (:class:`TabularSpec`). The booster is
stored as native UBJ (``model.ubj``); loading checks the saving xgboost version (an xgboost 3.0
reader silently misreads 3.1+ models) and sets ``nthread=1`` for serving workers.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import pandas as pd
import xgboost as xgb

from retailsage.core.collective import is_distributed
from retailsage.core.errors import ArtifactError, NotFittedError
from retailsage.core.hyperparameters import check_range
from retailsage.features.asof import RECENCY
from retailsage.features.gap import TARGET
from retailsage.models.base import TrainingHooks
from retailsage.models.compiled_trees import CompiledTrees
from retailsage.models.distributed_stats import (
    learn_spec,
    newest_order,
    shared_validation,
    total,
    weighted_median,
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
from retailsage.models.tabular import TabularSpec
from retailsage.models.xgboost_training import train_booster

LOGGER = logging.getLogger(__name__)
MODEL_FILE = "model.ubj"
PROBABILITY_FILE = "model_probability.ubj"

Objective = Literal["reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror"]


@dataclass(frozen=True)
class XGBoostGapConfig:
    """Hyperparameters of the XGBoost gap model (names as in upstream XGBoost).

    Attributes:
        num_round: maximum boosting rounds.
        eta: learning rate.
        max_depth: maximum tree depth.
        min_child_weight: minimum hessian sum per leaf (an absolute floor).
        min_child_fraction: minimum hessian sum per leaf as a fraction of the training rows'
            summed sample weight (their hessian sum under the L1 and L2 losses); the booster
            uses the larger of this and ``min_child_weight``. Scale-free regularisation: the
            noisy gap target needs large leaves whatever the number of rows.
        subsample: row subsample ratio per tree.
        colsample_bytree: column subsample ratio per tree.
        early_stopping_rounds: stop after this many rounds without validation MAE improvement
            (only when a validation set is given; 0 disables).
        objective: the regression loss.
        huber_slope: delta of ``reg:pseudohubererror`` (in target units, log units with
            ``log_target``).
        log_target: fit on ``log1p(gap)`` and predict ``expm1`` of the output.
        seed: random seed.
        nthread: training threads (0 = all cores); serving always loads with 1.
        outlier_filter: drop Isolation-Forest outlier customers from the training rows.
        outlier_contamination: expected outlier fraction of customers for that filter.
        exclude_columns: input columns the model ignores (still accepted in requests).
        asof_min_child_fraction: ``min_child_fraction`` used instead when the training rows
            are as-of snapshots (they carry ``days_since_last_order``): many more, strongly
            correlated rows per customer than per-order rows.
        recency_halflife_days: weight training rows by ``0.5 ** (age / half-life)``, age
            counted back from the newest training order (0 disables).
    """

    num_round: int = 150
    eta: float = 0.05
    max_depth: int = 6
    min_child_weight: float = 20.0
    min_child_fraction: float = 0.15
    subsample: float = 0.8
    colsample_bytree: float = 0.5
    early_stopping_rounds: int = 40
    objective: Objective = "reg:absoluteerror"
    huber_slope: float = 1.0
    log_target: bool = False
    seed: int = 0
    nthread: int = 0
    outlier_filter: bool = False
    outlier_contamination: float = 0.02
    exclude_columns: tuple[str, ...] = ("month",)
    recency_halflife_days: float = 60.0
    asof_min_child_fraction: float = 0.01

    def __post_init__(self) -> None:
        """Range-check every value (raises HyperparameterError)."""
        check_range("num_round", self.num_round, low=1, high=100_000)
        check_range("asof_min_child_fraction", self.asof_min_child_fraction, low=0.0, high=0.5)
        check_range("eta", self.eta, low=0.0, high=1.0, low_open=True)
        check_range("max_depth", self.max_depth, low=1, high=20)
        check_range("min_child_weight", self.min_child_weight, low=0.0)
        check_range("min_child_fraction", self.min_child_fraction, low=0.0, high=0.5)
        check_range("subsample", self.subsample, low=0.0, high=1.0, low_open=True)
        check_range("colsample_bytree", self.colsample_bytree, low=0.0, high=1.0, low_open=True)
        check_range("early_stopping_rounds", self.early_stopping_rounds, low=0)
        check_range("huber_slope", self.huber_slope, low=0.0, low_open=True)
        check_range("nthread", self.nthread, low=0, high=1024)
        check_range("recency_halflife_days", self.recency_halflife_days, low=0.0)
        check_range(
            "outlier_contamination", self.outlier_contamination, low=0.0, high=0.5, low_open=True
        )

    def booster_params(self, total_weight: float = 0.0, *, asof: bool = False) -> dict[str, Any]:
        """Return the parameter dict handed to ``xgb.train``.

        Args:
            total_weight: the training rows' summed sample weight (the row count when
                unweighted); sets the leaf floor ``min_child_fraction * total_weight``.
            asof: the rows are as-of snapshots (``asof_min_child_fraction`` applies).

        Returns:
            The booster parameters.
        """
        fraction = self.asof_min_child_fraction if asof else self.min_child_fraction
        min_child = max(self.min_child_weight, fraction * total_weight)
        params: dict[str, Any] = {
            "objective": self.objective,
            "eta": self.eta,
            "max_depth": self.max_depth,
            "min_child_weight": min_child,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "tree_method": "hist",
            "seed": self.seed,
            "nthread": self.nthread,
            "disable_default_eval_metric": 1,
        }
        if self.objective == "reg:pseudohubererror":
            params["huber_slope"] = self.huber_slope
        return params


class XGBoostGap:
    """Gradient-boosted trees predicting ``predicted_gap_days`` from gap feature rows."""

    name: ClassVar[str] = "xgboost"
    config_cls: ClassVar[type[Any]] = XGBoostGapConfig
    output_columns: ClassVar[tuple[str, ...]] = GAP_OUTPUT_COLUMNS
    format_version: ClassVar[int] = 2

    def __init__(self, config: XGBoostGapConfig | None = None) -> None:
        """Store the config; nothing is fitted yet.

        Args:
            config: hyperparameters (defaults when omitted).
        """
        self.config = config or XGBoostGapConfig()
        self.spec_: TabularSpec | None = None
        self.booster_: xgb.Booster | None = None
        self.probability_: xgb.Booster | None = None
        self._compiled: tuple[xgb.Booster, int, CompiledTrees | None] | None = None

    def fit(
        self,
        train: pd.DataFrame,
        validation: pd.DataFrame | None = None,
        *,
        hooks: TrainingHooks | None = None,
    ) -> Self:
        """Fit on gap rows carrying ``gap_days``; early-stop on ``validation`` when given.

        Args:
            train: training rows (feature columns plus ``gap_days``).
            validation: optional rows for early stopping and per-round metrics.
            hooks: checkpointing, metric and stop hooks from the training runner.

        Returns:
            ``self``.

        Raises:
            DataError: no target column, or no usable training rows.
            TrainingInterrupted: ``hooks.should_stop()`` turned True (after a checkpoint).
        """
        hooks = hooks or TrainingHooks()
        hosts = hooks.collective  # multi-host: statistics over every host's rows
        spec = learn_spec(train, TARGET, self.config.exclude_columns, hosts)
        train = filtered_training_rows(train, spec, self.config)
        dtrain = self._dmatrix(spec, train, with_label=True)
        reference = newest_order(train, hosts) if is_distributed(hosts) else None
        weights = recency_weights(train, self.config.recency_halflife_days, reference)
        if weights is not None:
            dtrain.set_weight(weights)
        total_weight = total(weights if weights is not None else np.ones(len(train)), hosts)
        if is_distributed(hosts):
            validation = shared_validation(validation, train, hosts)
        elif validation is not None:
            validation = observed_rows(validation)
        dval = None if validation is None else self._dmatrix(spec, validation, with_label=True)
        params = self.config.booster_params(total_weight, asof=RECENCY in train.columns)
        if self.config.objective == "reg:absoluteerror":
            # start at the weighted median as an exact label value: over half of the capped
            # as-of targets sit at H, and xgboost's own estimate can land a float step above
            # it (60.0000004 on the real file's full-data refit); every L1 gradient is then +1,
            # no split carries signal and the model predicted H for every customer
            label_weights = weights if weights is not None else np.ones(len(train))
            params["base_score"] = weighted_median(dtrain.get_label(), label_weights, hosts)
        self.booster_ = train_booster(
            params,
            dtrain,
            dval,
            num_round=self.config.num_round,
            early_stopping_rounds=self.config.early_stopping_rounds or None,
            log_target=self.config.log_target,
            hooks=hooks,
        )
        self.probability_ = self._fit_probability(spec, train, weights, total_weight)
        self.spec_ = spec
        return self

    def _fit_probability(
        self,
        spec: TabularSpec,
        train: pd.DataFrame,
        weights: np.ndarray | None,
        total_weight: float,
    ) -> xgb.Booster:
        """Fit the ``binary:logistic`` booster of P(purchase within the horizon).

        Log loss is a proper scoring rule, so the raw probabilities are calibrated on the
        training distribution; same trees settings as the regressor, no early stopping.
        """
        dtrain = xgb.DMatrix(
            spec.encode(train), label=purchase_labels(train), feature_names=list(spec.model_columns)
        )
        if weights is not None:
            dtrain.set_weight(weights)
        params = {
            # hessian p(1-p) <= 1/4 per row
            **self.config.booster_params(total_weight / 4.0, asof=RECENCY in train.columns),
            "objective": "binary:logistic",
        }
        return xgb.train(params, dtrain, num_boost_round=self.config.num_round)

    def refit_config(self) -> XGBoostGapConfig:
        """The config of a final refit on all the data: the rounds this fit settled on.

        Returns:
            This config with ``num_round`` = the booster's rounds (cut to the best round when
            early stopping triggered) and early stopping off (the refit has no holdout).

        Raises:
            NotFittedError: before ``fit``/``load``.
        """
        _, booster = self._fitted()
        rounds = max(1, booster.num_boosted_rounds())
        return dataclasses.replace(self.config, num_round=rounds, early_stopping_rounds=0)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Predict days to the next purchase, one row per input row.

        Args:
            frame: rows carrying ``input_columns`` (extra columns are ignored).

        Returns:
            A frame with ``predicted_gap_days`` (>= 0) and ``purchase_probability``, indexed
            like ``frame``.

        Raises:
            NotFittedError: before ``fit``/``load``.
            BadInput: a missing or non-numeric column.
        """
        spec, _ = self._fitted()
        matrix = spec.encode(frame)
        probability = self._probability().inplace_predict(matrix)
        return pd.DataFrame(
            {
                GAP_OUTPUT_COLUMNS[0]: self.predict_matrix(matrix),
                GAP_OUTPUT_COLUMNS[1]: np.asarray(probability, dtype=np.float64),
            },
            index=frame.index,
        )

    def predict_probability_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """P(purchase within the horizon) from an encoded matrix (the serving fast path).

        Args:
            matrix: laid out as for :meth:`predict_matrix`.

        Returns:
            Probabilities as float64, one per row.
        """
        return np.asarray(self._probability().inplace_predict(matrix), dtype=np.float64)

    def _probability(self) -> xgb.Booster:
        """The probability booster, or NotFittedError."""
        if self.probability_ is None:
            raise NotFittedError("XGBoostGap is not fitted; call fit() or load() first")
        return self.probability_

    @property
    def tabular_spec(self) -> TabularSpec:
        """The learned input spec (columns, category codes); raises before ``fit``/``load``."""
        spec, _ = self._fitted()
        return spec

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Predict days from an already encoded matrix (the serving fast path).

        Args:
            matrix: ``[n, len(tabular_spec.model_columns)]`` float32/float64, laid out as
                :meth:`TabularSpec.encode` returns it (validation is the caller's job).

        Returns:
            Predicted days (>= 0) as float64, one per row.
        """
        _, booster = self._fitted()
        compiled = self.compiled_trees()
        margin = compiled.predict(matrix) if compiled else booster.inplace_predict(matrix)
        return self._to_days(np.asarray(margin, dtype=np.float64))

    def compiled_trees(self) -> CompiledTrees | None:
        """The compiled predictor for the current booster (built once), or None for xgboost's.

        Returns:
            What :meth:`CompiledTrees.from_booster` gives for ``booster_``.
        """
        _, booster = self._fitted()
        rounds = booster.num_boosted_rounds()  # a booster trained on in place grows
        cached = self._compiled
        if cached is None or cached[0] is not booster or cached[1] != rounds:
            cached = self._compiled = (booster, rounds, CompiledTrees.from_booster(booster))
        return cached[2]

    def explain(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-prediction feature contributions (SHAP values from ``pred_contribs``).

        Each row sums to the model output before clipping: the predicted days, or
        ``log1p(predicted days)`` when ``log_target`` is set. Excluded columns contribute 0.

        Args:
            frame: rows carrying ``input_columns``.

        Returns:
            One column per input column plus ``bias``, indexed like ``frame`` (no rows for an
            empty frame, as ``predict`` and the LSTM's ``explain`` return).

        Raises:
            NotFittedError: before ``fit``/``load``.
            BadInput: a missing or non-numeric column.
        """
        spec, booster = self._fitted()
        matrix = xgb.DMatrix(spec.encode(frame), feature_names=list(spec.model_columns))
        # XGBoost answers an empty matrix with shape (0, 1), whatever the feature count
        contribs = booster.predict(matrix, pred_contribs=True).reshape(
            len(frame), len(spec.model_columns) + 1
        )
        used = pd.DataFrame(contribs, columns=[*spec.model_columns, "bias"], index=frame.index)
        return used.reindex(columns=[*spec.columns, "bias"], fill_value=0.0)

    def save(self, model_dir: Path) -> dict[str, Any]:
        """Write ``model.ubj`` and return the feature spec for the manifest.

        Args:
            model_dir: the destination directory.

        Returns:
            Extra manifest fields (``feature_spec``, ``model_file``).
        """
        spec, booster = self._fitted()
        booster.save_model(str(model_dir / MODEL_FILE))
        self._probability().save_model(str(model_dir / PROBABILITY_FILE))
        return {
            "feature_spec": spec.to_dict(),
            "model_file": MODEL_FILE,
            "probability_file": PROBABILITY_FILE,
        }

    @classmethod
    def load(cls, model_dir: Path, manifest: dict[str, Any]) -> Self:
        """Rebuild from ``model.ubj`` and the manifest; serving threads are set to 1.

        Args:
            model_dir: the directory ``save`` wrote.
            manifest: the parsed ``manifest.json``.

        Returns:
            A fitted model.

        Raises:
            ArtifactError: missing file or an incompatible saving xgboost version.
        """
        check_xgboost_version(manifest.get("libraries", {}))
        boosters = []
        for name in (MODEL_FILE, PROBABILITY_FILE):
            path = model_dir / name
            if not path.is_file():
                raise ArtifactError(f"{path} is missing; the xgboost artifact is incomplete")
            booster = xgb.Booster()
            booster.load_model(str(path))
            booster.set_param({"nthread": 1})
            boosters.append(booster)
        model = cls(XGBoostGapConfig(**manifest["config"]))
        model.booster_, model.probability_ = boosters
        model.spec_ = TabularSpec.from_dict(manifest["feature_spec"])
        model.compiled_trees()  # at load, not on the first request
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
        """Feature columns in CSV order (known after fit)."""
        spec, _ = self._fitted()
        return spec.columns

    def _fitted(self) -> tuple[TabularSpec, xgb.Booster]:
        """Return the learned state or raise NotFittedError."""
        if self.spec_ is None or self.booster_ is None:
            raise NotFittedError("XGBoostGap is not fitted; call fit() or load() first")
        return self.spec_, self.booster_

    def _dmatrix(self, spec: TabularSpec, frame: pd.DataFrame, *, with_label: bool) -> xgb.DMatrix:
        """Encode rows into a DMatrix, the label transformed for ``log_target``."""
        label = target_array(frame, log_target=self.config.log_target) if with_label else None
        return xgb.DMatrix(spec.encode(frame), label=label, feature_names=list(spec.model_columns))

    def _to_days(self, margin: np.ndarray) -> np.ndarray:
        """Map the booster output back to days, clipped at zero."""
        days = np.expm1(margin) if self.config.log_target else margin
        return np.clip(days, 0.0, None)


def check_xgboost_version(libraries: dict[str, Any]) -> None:
    """Refuse a booster saved by an xgboost whose major.minor differs from the installed one.

    Args:
        libraries: the manifest's ``libraries`` map.

    Raises:
        ArtifactError: the versions differ, or the manifest does not record one.
    """
    saved = libraries.get("xgboost") or libraries.get("xgboost-cpu")
    if saved is None:
        raise ArtifactError("manifest does not record the xgboost version the model was saved with")
    installed = xgb.__version__
    if _major_minor(str(saved)) != _major_minor(installed):
        raise ArtifactError(
            f"model saved with xgboost {saved} but this image has xgboost {installed}; "
            "booster files are not portable across minor versions (3.0 misreads 3.1+ models); "
            "retrain or serve with the matching image"
        )


def _major_minor(version: str) -> tuple[str, ...]:
    """Return the first two dotted components of a version string."""
    return tuple(version.split(".")[:2])
