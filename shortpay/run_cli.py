"""``shortpay run``: the main job."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run the main job on an inbox")
    parser.set_defaults(handler=lambda args: 0)
