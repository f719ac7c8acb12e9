"""``shortpay bench``: generate (or reuse) an inbox, run the pipeline, measure it.

The generated inbox is cached in the work folder under a name made of the
profile, size and seed, together with a ``generated.json`` that records the
arguments and a hash of the generator's source. A later run with the same
arguments and an unchanged generator reuses it. The run's own files
(warehouse, work and state databases, outbox) go to ``run/`` in that folder
and are deleted afterwards unless ``keep`` is set.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from shortpay.bench.measure import PeakMemory, measure_accuracy, measure_floor
from shortpay.bench.profiles import get_profile
from shortpay.settings import DEFAULT_RULES_DIR

logger = logging.getLogger(__name__)

DEFAULT_WORKDIR = Path("data/bench")
DEFAULT_PIPELINE = "shortpay.pipeline:run_pipeline"
GENERATOR_SOURCES = [
    "erp_sql.py", "remit_sql.py", "extras.py", "export.py", "x12_writer.py", "profiles.py",
    "generate.py", "truth_readme.py",
]
INPUT_ROW_KEYS = [
    "customers", "invoices", "invoice_lines", "shipments", "promotions", "prices",
    "remittance_lines",
]


def load_pipeline(spec: str = DEFAULT_PIPELINE) -> Callable[..., Any]:
    """Import ``module:function``; raise RuntimeError naming it when it is missing."""
    module_name, _, function_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, function_name)
    except (ImportError, AttributeError) as error:
        raise RuntimeError(
            f"pipeline function {spec!r} not found ({error}); "
            "pass --pipeline MODULE:FUNCTION to use another one"
        ) from error


def customers_for(invoices: int) -> int:
    """Return the customer count the benchmark uses: one per 200 invoices, at least 50."""
    return max(50, invoices // 200)


def generator_fingerprint() -> str:
    """Return a SHA-256 over the generator's source files, to invalidate old caches."""
    digest = hashlib.sha256()
    folder = Path(__file__).parent
    for name in GENERATOR_SOURCES:
        digest.update(name.encode())
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


def prepare_inbox(workdir: Path, *, invoices: int, profile: str, seed: int) -> tuple[Path, bool, float]:
    """Return the cached inbox folder, whether it was generated now, and the seconds it took."""
    case_dir = workdir / f"{profile}-{invoices}-seed{seed}"
    inbox = case_dir / "inbox"
    marker = case_dir / "generated.json"
    expected_marker = {
        "invoices": invoices,
        "customers": customers_for(invoices),
        "profile": profile,
        "seed": seed,
        "generator": generator_fingerprint(),
    }
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")) == expected_marker:
        logger.info("bench: reusing the generated inbox %s", inbox)
        return inbox, False, 0.0
    marker.unlink(missing_ok=True)
    case_dir.mkdir(parents=True, exist_ok=True)
    logger.info("bench: generating %s invoices (profile %s) into %s", invoices, profile, inbox)
    started = time.perf_counter()
    # A child process, so the generator's memory is not counted in the pipeline's peak.
    subprocess.run(
        [sys.executable, "-m", "shortpay.cli", "generate", "--out", str(inbox),
         "--invoices", str(invoices), "--customers", str(expected_marker["customers"]),
         "--seed", str(seed), "--profile", profile],
        check=True,
        stdout=sys.stderr,  # keep stdout for the report, which may be JSON
    )
    seconds = time.perf_counter() - started
    marker.write_text(json.dumps(expected_marker, indent=2) + "\n", encoding="utf-8")
    return inbox, True, seconds


def run_benchmark(
    *,
    invoices: int,
    profile: str,
    seed: int = 7,
    workdir: Path = DEFAULT_WORKDIR,
    rules_dir: Path = DEFAULT_RULES_DIR,
    keep: bool = False,
    pipeline: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """Run one benchmark case and return its measurements as JSON-ready values."""
    spec = get_profile(profile)
    pipeline = pipeline or load_pipeline()
    inbox, generated, generate_seconds = prepare_inbox(
        Path(workdir), invoices=invoices, profile=profile, seed=seed)
    truth_dir = inbox.with_name(inbox.name + "_truth")
    summary = json.loads((truth_dir / "expected_summary.json").read_text(encoding="utf-8"))
    run_dir = inbox.parent / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir()
    warehouse = run_dir / "warehouse.duckdb"
    # Other work on the machine slows every stage, so the report shows the load.
    load_before = os.getloadavg()[0]
    try:
        logger.info("bench: running the pipeline on %s", inbox)
        result, pipeline_seconds, peak_mib = timed_run(
            pipeline, inbox, warehouse, Path(rules_dir), spec.as_of)
        logger.info("bench: measuring the DuckDB floor")
        floor = measure_floor(inbox)
        accuracy = measure_accuracy(warehouse, truth_dir)
    finally:
        if not keep:
            shutil.rmtree(run_dir, ignore_errors=True)

    pipeline_summary, stage_seconds = read_pipeline_result(result)
    input_rows = sum(int(summary[key]) for key in INPUT_ROW_KEYS)
    return {
        "profile": profile,
        "invoices": invoices,
        "customers": summary["customers"],
        "seed": seed,
        "as_of": spec.as_of.isoformat(),
        "inbox": str(inbox),
        "generated_now": generated,
        "generate_seconds": round(generate_seconds, 3),
        "input_rows": input_rows,
        "input_bytes": sum(p.stat().st_size for p in inbox.rglob("*") if p.is_file()),
        "remittance_lines": summary["remittance_lines"],
        "pipeline_seconds": round(pipeline_seconds, 3),
        "stage_seconds": {k: round(float(v), 3) for k, v in stage_seconds.items()},
        # start-up and hand-over time outside the timed stages (Prefect, imports)
        "unstaged_seconds": round(pipeline_seconds - staged_seconds(stage_seconds), 3),
        "peak_rss_mib": peak_mib,
        "rows_per_second": round(input_rows / pipeline_seconds) if pipeline_seconds else None,
        "floor_seconds": floor["seconds"],
        "floor_rows_read": floor["rows_read"],
        "floor_joined_rows": floor["joined_rows"],
        "ratio_to_floor": round(pipeline_seconds / floor["seconds"], 1) if floor["seconds"] else None,
        **accuracy,
        "pipeline_summary": _json_ready(pipeline_summary),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "kept_run_folder": str(run_dir) if keep else None,
    }


# Stages that run at the same time, so only the longer one adds to a run's time.
CONCURRENT_STAGES = ("followups", "publish")


def staged_seconds(stage_seconds: dict[str, float]) -> float:
    """Return the wall seconds that the stages cover, counting concurrent stages once."""
    alone = sum(float(v) for k, v in stage_seconds.items() if k not in CONCURRENT_STAGES)
    together = [float(stage_seconds[k]) for k in CONCURRENT_STAGES if k in stage_seconds]
    return alone + max(together, default=0.0)


def timed_run(
    pipeline: Callable[..., Any], inbox: Path, warehouse: Path, rules_dir: Path, as_of: date
) -> tuple[Any, float, float]:
    """Run the pipeline once; return its result, wall seconds and peak RSS in MiB."""
    with PeakMemory() as memory:
        started = time.perf_counter()
        result = pipeline(inbox=inbox, warehouse=warehouse, rules_dir=rules_dir,
                          as_of=as_of, transport="outbox")
        seconds = time.perf_counter() - started
    return result, seconds, memory.peak_mib


def read_pipeline_result(result: Any) -> tuple[dict[str, Any], dict[str, float]]:
    """Return the run summary and seconds per stage of a pipeline result.

    The result is either an object with ``as_dict()`` and ``stage_seconds`` or
    a plain summary dict with a ``stage_seconds`` entry.
    """
    if hasattr(result, "as_dict"):
        summary = dict(result.as_dict())
        stages = getattr(result, "stage_seconds", None) or summary.get("stage_seconds") or {}
    elif isinstance(result, dict):
        summary = result
        stages = result.get("stage_seconds") or {}
    else:
        raise TypeError(f"pipeline returned {type(result).__name__}, expected a summary")
    return summary, dict(stages)


def _json_ready(value: Any) -> Any:
    """Make a pipeline summary printable as JSON: dates, decimals and paths become text."""
    return json.loads(json.dumps(value, default=str))


def format_table(report: dict[str, Any]) -> str:
    """Format a benchmark report as an aligned two-column table for people."""
    lines = []
    for key, value in report.items():
        if key == "pipeline_summary":
            continue
        if isinstance(value, dict):
            for inner_key, inner_value in value.items():
                lines.append((f"{key}.{inner_key}", inner_value))
        else:
            lines.append((key, value))
    width = max(len(name) for name, _ in lines)
    return "\n".join(f"{name:<{width}}  {'' if value is None else value}" for name, value in lines)
