"""Seeded data generator and the benchmark."""
