"""Transaction-line features for unsupervised anomaly detection (PCA + KMeans).

Adapted from an inventory-anomaly design (item, warehouse, movement type, quantities) to retail
lines: the country stands in for the warehouse and the transaction type (sale / cancellation /
adjustment) for the movement type. What makes distance-based detection work is that a line is
judged against what is *typical for its item*, so :class:`AnomalyFeaturizer` learns per-item
statistics at ``fit`` (median log price and quantity, their robust spreads, popularity) and
expresses each line relative to them. Everything learned is plain lists and numbers
(:meth:`AnomalyFeaturizer.to_dict`), stored with the model and reloaded without executing code.

Unseen items and countries map to id 0 ("unknown"), are scored against the global statistics and
flagged by ``is_unknown_item`` (an unknown item is itself informative).
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd

from retailsage.core.errors import ArtifactError, DataError, NotFittedError
from retailsage.data.schema import (
    COUNTRY,
    CUSTOMER_ID,
    DESCRIPTION,
    INVOICE_DATE,
    INVOICE_NO,
    QUANTITY,
    STOCK_CODE,
    TRANSACTION_COLUMNS,
    UNIT_PRICE,
)
from retailsage.features._frame import require_columns
from retailsage.features.line_encoding import (
    N_TIME_CELLS,
    Distinct,
    blank,
    calendar,
    float_array,
    group_medians,
    item_categories,
    log_price,
    robust_centre,
    signed_log,
    time_cells,
    transaction_type_ids,
)

ANOMALY_FEATURE_COLUMNS: tuple[str, ...] = (
    "quantity",
    "abs_quantity",
    "unit_price",
    "total_amount",
    "hour",
    "day_of_week",
    "day_of_month",
    "item_id",
    "country_id",
    "transaction_type_id",
    "item_category_id",
    "is_unknown_item",
    "item_popularity",
    "price_vs_item",
    "price_vs_item_z",
    "quantity_vs_item",
    "quantity_vs_item_z",
    "item_price_spread",
    "customer_quantity_scale",
    "quantity_vs_customer",
    "country_popularity",
    "time_rarity",
    "is_cancellation",
    "is_adjustment",
    "is_nonstandard_code",
    "customer_missing",
    "description_missing",
)
"""Every column :meth:`AnomalyFeaturizer.transform` returns, in order (all float64)."""

ANOMALY_ID_COLUMNS: tuple[str, ...] = (
    "item_id",
    "country_id",
    "transaction_type_id",
    "item_category_id",
)
"""Integer codes (0 = unknown for items/countries): labels, not magnitudes."""

ANOMALY_DISTANCE_COLUMNS: tuple[str, ...] = tuple(
    name for name in ANOMALY_FEATURE_COLUMNS if name not in ANOMALY_ID_COLUMNS
)
"""The columns meant for distance-based models (PCA/KMeans): everything but the raw ids."""

TRANSACTION_TYPES: tuple[str, ...] = ("sale", "cancellation", "adjustment")
"""Transaction types; a type's id is its index here."""

ITEM_CATEGORIES: tuple[str, ...] = ("standard", "variant", "nonstandard")
"""Stock-code shapes: five digits; five digits plus letters; anything else."""

FORMAT = "retailsage.anomaly_features"
FORMAT_VERSION = 1

_PRICE_SPREAD_FLOOR = 0.1  # log units: ~10 % price moves are within one spread
_QUANTITY_SPREAD_FLOOR = 0.25
_Z_LIMIT = 20.0


def transaction_type(lines: pd.DataFrame) -> pd.Series:
    """Classify each line by its invoice number.

    Args:
        lines: transaction lines with ``InvoiceNo``.

    Returns:
        ``string`` Series aligned with ``lines``: ``"cancellation"`` for invoices starting with
        "C", ``"adjustment"`` for "A", else ``"sale"``.

    Raises:
        DataError: ``InvoiceNo`` is missing.
    """
    require_columns(lines, (INVOICE_NO,), "transactions")
    ids = transaction_type_ids(lines)
    names = np.asarray(TRANSACTION_TYPES, dtype=object)[ids]
    return pd.Series(pd.array(names, dtype="string"), index=lines.index, name="transaction_type")


def is_transaction_frame(frame: pd.DataFrame) -> bool:
    """Tell whether ``frame`` carries the eight raw transaction schema columns.

    Args:
        frame: any table.

    Returns:
        True when every column of ``TRANSACTION_COLUMNS`` is present.
    """
    return set(TRANSACTION_COLUMNS).issubset(map(str, frame.columns))


class AnomalyFeaturizer:
    """Learns item/country/time encodings and statistics, then featurizes transaction lines.

    Learned attributes (set by :meth:`fit` or :meth:`from_dict`) end in ``_``.
    """

    def __init__(self) -> None:
        self.items_: list[str] | None = None
        self.item_count_: np.ndarray = np.zeros(0)
        self.item_log_price_: np.ndarray = np.zeros(0)
        self.item_price_spread_: np.ndarray = np.zeros(0)
        self.item_log_quantity_: np.ndarray = np.zeros(0)
        self.item_quantity_spread_: np.ndarray = np.zeros(0)
        self.countries_: list[str] = []
        self.country_count_: np.ndarray = np.zeros(0)
        self.time_count_: np.ndarray = np.zeros(N_TIME_CELLS)
        self.n_lines_: int = 0
        self.customers_: list[str] = []
        self.customer_scale_: np.ndarray = np.zeros(0)
        self._item_index: pd.Index | None = None
        self._country_index: pd.Index | None = None
        self._customer_index: pd.Index | None = None

    def fit(self, lines: pd.DataFrame) -> AnomalyFeaturizer:
        """Learn the encodings and per-item statistics from raw typed transaction lines.

        Args:
            lines: transaction lines with the eight schema columns (not cleaned: anomalies and
                cancellations included, as in :func:`prepare_anomaly_lines`).

        Returns:
            ``self``.

        Raises:
            DataError: columns are missing or there are no lines.
        """
        _require_lines(lines)
        if lines.empty:
            raise DataError("cannot fit anomaly features on an empty table")
        codes = Distinct(lines[STOCK_CODE])
        self.items_, self.item_count_ = codes.ranked()
        self._item_index = self._country_index = self._customer_index = None
        item_slot = codes.lookup(self._items_index()) + 1
        self._fit_item_statistics(lines, item_slot - 1)
        self._fit_customer_scale(lines, item_slot)
        self.countries_, self.country_count_ = Distinct(lines[COUNTRY]).ranked()
        cells = time_cells(lines[INVOICE_DATE])
        self.time_count_ = np.bincount(cells, minlength=N_TIME_CELLS).astype(np.float64)
        self.n_lines_ = len(lines)
        return self

    def transform(self, lines: pd.DataFrame) -> pd.DataFrame:
        """Featurize transaction lines with the learned encodings.

        Args:
            lines: transaction lines with the eight schema columns.

        Returns:
            float64 frame with columns :data:`ANOMALY_FEATURE_COLUMNS`, same index and order.

        Raises:
            NotFittedError: called before :meth:`fit` / :meth:`from_dict`.
            DataError: columns are missing.
        """
        items = self._items_index()
        _require_lines(lines)
        quantity = lines[QUANTITY].to_numpy(dtype=np.float64, na_value=np.nan)
        price = lines[UNIT_PRICE].to_numpy(dtype=np.float64, na_value=np.nan)
        codes = Distinct(lines[STOCK_CODE])
        found = codes.lookup(items)
        slot = found + 1  # slot 0 holds the global ("unknown item") statistics
        type_ids = transaction_type_ids(lines)
        category = codes.expand(item_categories(codes.values))
        country = Distinct(lines[COUNTRY])
        country_slot = country.lookup(self._countries_index()) + 1
        columns: dict[str, np.ndarray] = {
            "quantity": signed_log(quantity),
            "abs_quantity": np.log1p(np.abs(quantity)),
            "unit_price": signed_log(price),
            "total_amount": signed_log(quantity * price),
            **calendar(lines[INVOICE_DATE]),
            "item_id": slot,
            "country_id": country_slot,
            "transaction_type_id": type_ids,
            "item_category_id": category,
            "is_unknown_item": found < 0,
            **self._item_relative(slot, quantity, price),
            **self._customer_relative(lines[CUSTOMER_ID], slot, quantity),
            "country_popularity": np.log1p(np.concatenate([[0.0], self.country_count_]))[
                country_slot
            ],
            "time_rarity": self._time_rarity(lines[INVOICE_DATE]),
            "is_cancellation": type_ids == 1,
            "is_adjustment": type_ids == 2,
            "is_nonstandard_code": category == 2,
            "customer_missing": lines[CUSTOMER_ID].isna().to_numpy(dtype=bool),
            "description_missing": blank(lines[DESCRIPTION]),
        }
        block = np.empty((len(ANOMALY_FEATURE_COLUMNS), len(lines)), dtype=np.float64)
        for row, name in enumerate(ANOMALY_FEATURE_COLUMNS):  # one pass per column, not row
            block[row] = columns[name]
        return pd.DataFrame(
            block.T, index=lines.index, columns=list(ANOMALY_FEATURE_COLUMNS), copy=False
        )

    def fit_transform(self, lines: pd.DataFrame) -> pd.DataFrame:
        """Fit on ``lines`` and return their features.

        Args:
            lines: transaction lines with the eight schema columns.

        Returns:
            Same as :meth:`transform`.
        """
        return self.fit(lines).transform(lines)

    def to_dict(self) -> dict[str, Any]:
        """Return the learned state as JSON-safe lists, strings and numbers.

        Returns:
            A dict that :meth:`from_dict` turns back into an identical featurizer.

        Raises:
            NotFittedError: called before :meth:`fit`.
        """
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "items": list(self._fitted_items()),
            "item_count": self.item_count_.tolist(),
            "item_log_price": self.item_log_price_.tolist(),
            "item_price_spread": self.item_price_spread_.tolist(),
            "item_log_quantity": self.item_log_quantity_.tolist(),
            "item_quantity_spread": self.item_quantity_spread_.tolist(),
            "countries": list(self.countries_),
            "country_count": self.country_count_.tolist(),
            "time_count": self.time_count_.tolist(),
            "n_lines": int(self.n_lines_),
            "customers": list(self.customers_),
            "customer_scale": self.customer_scale_.tolist(),
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Self:
        """Rebuild a fitted featurizer from :meth:`to_dict` output.

        Args:
            payload: the dict (e.g. read from the model's JSON file).

        Returns:
            The featurizer.

        Raises:
            ArtifactError: wrong format, version, missing keys or inconsistent lengths.
        """
        if payload.get("format") != FORMAT or payload.get("format_version") != FORMAT_VERSION:
            raise ArtifactError(
                f"anomaly feature state has format {payload.get('format')!r} version "
                f"{payload.get('format_version')!r}; expected {FORMAT!r} {FORMAT_VERSION}"
            )
        try:
            featurizer = cls()
            featurizer.items_ = [str(code) for code in payload["items"]]
            featurizer.item_count_ = float_array(payload["item_count"])
            featurizer.item_log_price_ = float_array(payload["item_log_price"])
            featurizer.item_price_spread_ = float_array(payload["item_price_spread"])
            featurizer.item_log_quantity_ = float_array(payload["item_log_quantity"])
            featurizer.item_quantity_spread_ = float_array(payload["item_quantity_spread"])
            featurizer.countries_ = [str(name) for name in payload["countries"]]
            featurizer.country_count_ = float_array(payload["country_count"])
            featurizer.time_count_ = float_array(payload["time_count"])
            featurizer.n_lines_ = int(payload["n_lines"])
            featurizer.customers_ = [str(name) for name in payload["customers"]]
            featurizer.customer_scale_ = float_array(payload["customer_scale"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"anomaly feature state is malformed: {exc!r}") from exc
        featurizer._check_lengths()
        return featurizer

    def _fit_item_statistics(self, lines: pd.DataFrame, item_index: np.ndarray) -> None:
        """Learn per-item median log price/quantity and robust spreads (slot 0 = global)."""
        quantity = lines[QUANTITY].to_numpy(dtype=np.float64, na_value=np.nan)
        price = lines[UNIT_PRICE].to_numpy(dtype=np.float64, na_value=np.nan)
        typical = (quantity > 0) & (price > 0)
        if not typical.any():
            typical = np.isfinite(quantity) & np.isfinite(price)
        n_items = len(self._fitted_items())
        groups = item_index[typical]
        self.item_log_price_, self.item_price_spread_ = robust_centre(
            log_price(price[typical]), groups, n_items, _PRICE_SPREAD_FLOOR
        )
        self.item_log_quantity_, self.item_quantity_spread_ = robust_centre(
            np.log1p(np.abs(quantity[typical])), groups, n_items, _QUANTITY_SPREAD_FLOOR
        )

    def _fit_customer_scale(self, lines: pd.DataFrame, item_slot: np.ndarray) -> None:
        """Learn each customer's median quantity relative to the items' typical quantities.

        Wholesale customers buy many times an item's typical quantity on every line; this
        "scale" lets a line be judged against the customer's own habit as well.
        """
        quantity = lines[QUANTITY].to_numpy(dtype=np.float64, na_value=np.nan)
        price = lines[UNIT_PRICE].to_numpy(dtype=np.float64, na_value=np.nan)
        relative = np.log1p(np.abs(quantity)) - self.item_log_quantity_[item_slot]
        customers = Distinct(lines[CUSTOMER_ID])
        named = customers.values != ""
        usable = (quantity > 0) & (price > 0) & named[customers.positions]
        present, medians = group_medians(relative[usable], customers.positions[usable])
        self.customers_ = [str(name) for name in customers.values[present]]
        self.customer_scale_ = np.asarray(medians, dtype=np.float64)

    def _customer_relative(
        self, customer: pd.Series, slot: np.ndarray, quantity: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The customer's learned quantity scale (0 if unknown) and the line relative to it."""
        if self._customer_index is None:
            self._customer_index = pd.Index(self.customers_, dtype=object)
        found = Distinct(customer).lookup(self._customer_index)
        scale = np.concatenate([[0.0], self.customer_scale_])[found + 1]
        relative = np.log1p(np.abs(quantity)) - self.item_log_quantity_[slot]
        return {"customer_quantity_scale": scale, "quantity_vs_customer": relative - scale}

    def _item_relative(
        self, slot: np.ndarray, quantity: np.ndarray, price: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Item popularity and the line's price/quantity relative to its item's typical ones."""
        popularity = np.log1p(np.concatenate([[0.0], self.item_count_]))[slot]
        price_gap = log_price(price) - self.item_log_price_[slot]
        quantity_gap = np.log1p(np.abs(quantity)) - self.item_log_quantity_[slot]
        price_spread = self.item_price_spread_[slot]
        return {
            "item_popularity": popularity,
            "price_vs_item": price_gap,
            "price_vs_item_z": np.clip(price_gap / price_spread, -_Z_LIMIT, _Z_LIMIT),
            "quantity_vs_item": quantity_gap,
            "quantity_vs_item_z": np.clip(
                quantity_gap / self.item_quantity_spread_[slot], -_Z_LIMIT, _Z_LIMIT
            ),
            "item_price_spread": price_spread,
        }

    def _time_rarity(self, dates: pd.Series) -> np.ndarray:
        """-log of the add-one smoothed share of fit lines in the same (weekday, hour) cell."""
        share = (self.time_count_ + 1.0) / (self.n_lines_ + N_TIME_CELLS)
        return np.asarray(-np.log(share[time_cells(dates)]))

    def _items_index(self) -> pd.Index:
        """The learned items as a (cached) hash index."""
        if self._item_index is None:
            self._item_index = pd.Index(self._fitted_items(), dtype=object)
        return self._item_index

    def _countries_index(self) -> pd.Index:
        """The learned countries as a (cached) hash index."""
        if self._country_index is None:
            self._country_index = pd.Index(self.countries_, dtype=object)
        return self._country_index

    def _fitted_items(self) -> list[str]:
        """The learned item list, or raise :class:`NotFittedError`."""
        if self.items_ is None:
            raise NotFittedError("AnomalyFeaturizer is not fitted: call fit() or from_dict()")
        return self.items_

    def _check_lengths(self) -> None:
        """Raise :class:`ArtifactError` when the learned arrays disagree in length."""
        n_items = len(self._fitted_items())
        item_arrays = (self.item_count_,)
        slot_arrays = (
            self.item_log_price_,
            self.item_price_spread_,
            self.item_log_quantity_,
            self.item_quantity_spread_,
        )
        consistent = (
            all(len(values) == n_items for values in item_arrays)
            and all(len(values) == n_items + 1 for values in slot_arrays)
            and len(self.country_count_) == len(self.countries_)
            and len(self.time_count_) == N_TIME_CELLS
            and len(self.customer_scale_) == len(self.customers_)
        )
        if not consistent:
            raise ArtifactError("anomaly feature state is inconsistent: array lengths differ")


def _require_lines(lines: pd.DataFrame) -> None:
    """Raise :class:`DataError` unless ``lines`` has the schema columns and every date."""
    require_columns(lines, TRANSACTION_COLUMNS, "transactions")
    missing = np.flatnonzero(lines[INVOICE_DATE].isna().to_numpy(dtype=bool))
    if len(missing):
        raise DataError(
            f"{INVOICE_DATE} is missing in {len(missing)} line(s), first at row {missing[0]}"
        )
