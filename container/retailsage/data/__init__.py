"""Retail transactions: schema, loading, cleaning, and a synthetic generator."""
