"""The result writer bounds the output in flight by size: a fast command waits for the writer."""

from __future__ import annotations

import threading

from webapp.engine.worker.writer import _OutputBudget


def taking(budget: _OutputBudget, size: int) -> threading.Event:
    """Take ``size`` from ``budget`` in another thread; the event is set once it is taken."""
    taken = threading.Event()
    threading.Thread(target=lambda: (budget.take(size), taken.set()), daemon=True).start()
    return taken


def test_a_reader_waits_while_the_output_in_flight_would_exceed_the_budget():
    budget = _OutputBudget(100)
    budget.take(60)

    taken = taking(budget, 60)

    assert not taken.wait(0.2)
    budget.give_back(60)  # the writer stored the first chunk
    assert taken.wait(5)


def test_chunks_that_fit_together_pass_at_once():
    budget = _OutputBudget(100)
    budget.take(40)

    assert taking(budget, 60).wait(5)


def test_a_chunk_bigger_than_the_whole_budget_passes_when_nothing_is_in_flight():
    budget = _OutputBudget(100)

    assert taking(budget, 500).wait(5)
    second = taking(budget, 1)
    assert not second.wait(0.2)
    budget.give_back(500)
    assert second.wait(5)
