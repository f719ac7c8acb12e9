"""Number text that Shortpay reads: plain decimal notation only."""

from __future__ import annotations

import re

# A sign, digits and a decimal point. Python's Decimal also takes 1e3, NaN
# and Infinity, which no amount in an inbox file or a command may be.
PLAIN_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
