"""Settings shared by the whole suite."""

from __future__ import annotations

import os

from shortpay.settings import set_library_defaults

set_library_defaults()
# Keep Prefect's own database and settings out of the developer's home.
# Each pytest-xdist worker starts a Prefect server of its own, and two
# servers must not share one database, so a worker always gets its own.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if WORKER or "PREFECT_HOME" not in os.environ:
    os.environ["PREFECT_HOME"] = os.path.join(
        os.getcwd(), ".pytest_cache", "prefect", WORKER or "main"
    )
os.makedirs(os.environ["PREFECT_HOME"], exist_ok=True)
