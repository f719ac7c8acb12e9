"""The notebook lock pins every package it shares with the pipeline at the pipeline's version."""

from __future__ import annotations

import re

from shortpay.settings import REPO_ROOT

PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)$", re.MULTILINE)


def pins(name: str) -> dict[str, str]:
    text = (REPO_ROOT / name).read_text(encoding="utf-8")
    return {package.lower(): version for package, version in PIN.findall(text)}


def test_notebook_lock_matches_pipeline_pins():
    pipeline = pins("requirements.lock")
    notebook = pins("requirements-notebook.lock")
    assert "duckdb" in pipeline
    assert "jupyterlab" in notebook
    missing = sorted(set(pipeline) - set(notebook))
    different = {
        package: (version, notebook[package])
        for package, version in pipeline.items()
        if package in notebook and notebook[package] != version
    }
    assert missing == []
    assert different == {}
