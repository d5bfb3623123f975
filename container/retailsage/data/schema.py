"""The UCI "Online Retail" transaction schema shared by every part of the project."""

from __future__ import annotations

INVOICE_NO = "InvoiceNo"
STOCK_CODE = "StockCode"
DESCRIPTION = "Description"
QUANTITY = "Quantity"
INVOICE_DATE = "InvoiceDate"
UNIT_PRICE = "UnitPrice"
CUSTOMER_ID = "CustomerID"
COUNTRY = "Country"

TRANSACTION_COLUMNS: tuple[str, ...] = (
    INVOICE_NO,
    STOCK_CODE,
    DESCRIPTION,
    QUANTITY,
    INVOICE_DATE,
    UNIT_PRICE,
    CUSTOMER_ID,
    COUNTRY,
)
"""Columns every raw transaction file carries, in the UCI order."""
