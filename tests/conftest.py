"""Settings shared by the whole suite."""

from __future__ import annotations

import os

from shortpay.settings import set_library_defaults

set_library_defaults()
# Keep Prefect's own database and settings out of the developer's home.
os.environ.setdefault("PREFECT_HOME", os.path.join(os.getcwd(), ".pytest_cache", "prefect"))
os.makedirs(os.environ["PREFECT_HOME"], exist_ok=True)
