"""Reference tables for the synthetic generator, shaped after the UCI Online Retail data.

The shares are rounded from the real file (customers per country, invoices per month and
weekday, lines per hour of day, typical pack quantities); nothing here is copied from it
line by line.
"""

from __future__ import annotations

import numpy as np

COUNTRIES: tuple[str, ...] = (
    "United Kingdom", "Germany", "France", "Spain", "Belgium", "Switzerland", "Portugal",
    "Italy", "Finland", "Austria", "Norway", "Netherlands", "Australia", "Denmark",
    "Channel Islands", "Cyprus", "Sweden", "Japan", "Poland", "USA", "Canada", "Unspecified",
    "Israel", "Greece", "EIRE", "Bahrain", "Malta", "United Arab Emirates", "Singapore",
    "Iceland", "Lithuania", "Lebanon", "RSA", "Brazil", "Czech Republic",
    "European Community", "Saudi Arabia", "Hong Kong",
)  # fmt: skip
"""The 38 countries of the real data."""

COUNTRY_CUSTOMER_WEIGHTS = np.array(
    [3950, 95, 87, 31, 25, 21, 19, 15, 12, 11, 10, 9, 9, 9, 9, 8, 8, 8, 6, 4, 4, 4, 4, 4,
     3, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    dtype=float,
)  # fmt: skip
"""Customers per country in the real data (UK about 90%)."""

MONTH_WEIGHTS = np.array([0.8, 0.75, 1.0, 0.85, 1.05, 1.0, 1.0, 1.0, 1.35, 1.55, 1.9, 1.2])
"""Relative order intensity for January..December: a Sep-Nov run-up to a November peak."""

WEEKDAY_WEIGHTS = np.array([1.0, 1.1, 1.1, 1.25, 0.85, 0.0, 0.65])
"""Relative order intensity Monday..Sunday; like the real shop, no orders on Saturdays."""

HOUR_WEIGHTS = np.array(
    [0, 0, 0, 0, 0, 0, 0, 0.1, 2.0, 7.0, 12.0, 14.0, 17.0, 15.0, 13.0, 11.0, 5.0, 3.0,
     0.7, 0.4, 0.1, 0, 0, 0],
    dtype=float,
)  # fmt: skip
"""Share of lines per hour of day: business hours 07:00-20:59, peak at noon."""

RETAIL_PACKS = np.array([1, 2, 3, 4, 6, 8, 10, 12, 24])
RETAIL_PACK_WEIGHTS = np.array([0.18, 0.17, 0.10, 0.09, 0.13, 0.04, 0.06, 0.16, 0.07])
WHOLESALE_PACKS = np.array([12, 24, 36, 48, 72, 96, 144, 288])
WHOLESALE_PACK_WEIGHTS = np.array([0.25, 0.25, 0.08, 0.15, 0.08, 0.1, 0.06, 0.03])

ADJECTIVES: tuple[str, ...] = (
    "HANGING", "VINTAGE", "REGENCY", "WOODEN", "GLASS", "PAPER", "CERAMIC", "ENAMEL", "RETRO",
    "HEART", "STAR", "FELTCRAFT", "PARTY", "CHRISTMAS", "JUMBO", "SMALL", "LARGE", "SET OF 3",
    "SET OF 6", "ANTIQUE", "FRENCH", "SPACEBOY", "DOLLY GIRL", "BAROQUE", "FLORAL",
)  # fmt: skip
COLOURS: tuple[str, ...] = (
    "WHITE", "RED", "PINK", "BLUE", "GREEN", "IVORY", "CREAM", "BLACK", "SILVER", "GOLD",
    "PASTEL", "POLKADOT", "RETROSPOT", "STRIPE",
)  # fmt: skip
NOUNS: tuple[str, ...] = (
    "T-LIGHT HOLDER", "LANTERN", "TEACUP AND SAUCER", "LUNCH BAG", "CAKE CASES", "BUNTING",
    "DOORMAT", "ALARM CLOCK", "HOT WATER BOTTLE", "JAM JAR", "MUG", "NAPKINS", "CHARLOTTE BAG",
    "PHOTO FRAME", "CANDLE", "STORAGE TIN", "NOTEBOOK", "WRAP", "BAKING SET", "PLATE",
    "DRAWER KNOB", "BIRD ORNAMENT", "WATER CAN", "CUSHION COVER", "PICNIC BASKET",
)  # fmt: skip

NON_MERCHANDISE: tuple[tuple[str, str, float], ...] = (
    ("POST", "POSTAGE", 18.0),
    ("DOT", "DOTCOM POSTAGE", 120.0),
    ("M", "Manual", 3.0),
    ("C2", "CARRIAGE", 50.0),
    ("BANK CHARGES", "Bank Charges", 15.0),
    ("AMAZONFEE", "AMAZON FEE", 900.0),
)
"""Service lines (code, description, typical price): postage, manual fixes, fees."""

NON_MERCHANDISE_WEIGHTS = np.array([0.5, 0.25, 0.17, 0.05, 0.02, 0.01])

ADJUSTMENT_CODE = "B"
ADJUSTMENT_DESCRIPTION = "Adjust bad debt"

FIRST_INVOICE = 536_365
"""The number of the first invoice, as in the real file."""

FIRST_CUSTOMER = 12_346
"""The smallest customer id, as in the real file (ids are 5-digit integers)."""
