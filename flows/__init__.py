"""Prefect flows of Shortpay."""
