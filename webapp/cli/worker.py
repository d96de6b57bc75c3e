"""``minke worker``."""

from __future__ import annotations

import logging

import click
from flask import current_app

from ..engine.worker.process import MinkeWorker, start_worker


@click.command("worker")
@click.option("--burst", is_flag=True, help="Quit once the queue is empty.")
@click.option("--name", help="Worker name (default: generated).")
@click.option("--slots", type=click.IntRange(1, 1000),
              help="Jobs run at once (default: MINKE_WORKER_SLOTS, 16).")
@click.option("--verbose", is_flag=True, help="Log every job.")
def worker_command(burst: bool, name: str | None, slots: int | None, verbose: bool) -> None:
    """Run a worker that executes sessions (run as many as you like, on any machine).

    One worker runs several runs at once, one per slot; more workers add slots.
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # current_app is a proxy

    def announce(worker: MinkeWorker) -> None:
        click.echo(f"Minke worker {worker.name}: {worker.slots} slots (runs at once) "
                   f"on queue {worker.queues[0].name}")

    start_worker(app, burst=burst, name=name, slots=slots, announce=announce)
