"""webapp.database.read_only: a reader's transaction ends with its block, error or not, and
one it did not open is left to its owner."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from webapp.database import read_only
from webapp.extensions import db
from webapp.models import HostGroup


def in_transaction() -> bool:
    return db.session().in_transaction()


def test_the_block_ends_its_transaction(app):
    db.session.rollback()
    with read_only():
        db.session.scalar(sa.select(sa.func.count()).select_from(HostGroup))
        assert in_transaction()
    assert not in_transaction()


def test_an_error_ends_it_too(app):
    db.session.rollback()
    with pytest.raises(LookupError), read_only():
        db.session.scalar(sa.select(sa.func.count()).select_from(HostGroup))
        raise LookupError("while reading")
    assert not in_transaction()


def test_a_transaction_opened_before_is_left_open(app):
    db.session.rollback()
    db.session.add(HostGroup(name="kept-open", comment="", config={}))
    db.session.flush()
    with read_only():
        names = set(db.session.scalars(sa.select(HostGroup.name)))
    assert "kept-open" in names and in_transaction()
    db.session.commit()
    assert db.session.scalar(sa.select(HostGroup.id).where(HostGroup.name == "kept-open"))
