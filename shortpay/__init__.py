"""Shortpay: deductions management for accounts receivable."""

__version__ = "0.1.0"
