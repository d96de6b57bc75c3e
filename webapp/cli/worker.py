"""``flask minke worker``."""

from __future__ import annotations

import logging

import click
from flask import current_app

from ..engine.worker import start_worker
from . import minke


@minke.command("worker")
@click.option("--burst", is_flag=True, help="Quit once the queue is empty.")
@click.option("--name", help="Worker name (default: generated).")
@click.option("--verbose", is_flag=True, help="Log every job.")
def worker_command(burst: bool, name: str | None, verbose: bool) -> None:
    """Run a worker that executes sessions (run as many as you like, on any machine)."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = current_app._get_current_object()
    start_worker(app, burst=burst, name=name)
