"""Deduction rules: YAML files validated and loaded as tables."""
