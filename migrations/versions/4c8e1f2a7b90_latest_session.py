"""latest session: each object's newest session, kept as runs start

``latest_session`` holds, per (object_type, object_id), the id of the object's
newest session. Object lists join it instead of computing ``max(id)`` over all
sessions, so that filtering 100,000 objects by their latest status stays an
indexed join. Filled from the sessions stored so far.

Revision ID: 4c8e1f2a7b90
Revises: be9260e0183a
Create Date: 2026-12-01 18:40:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "4c8e1f2a7b90"
down_revision = "be9260e0183a"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "latest_session",
        sa.Column("object_type", sa.String(length=80), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["minke_session.id"],
                                name=op.f("fk_latest_session_session_id_minke_session"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("object_type", "object_id", name=op.f("pk_latest_session")),
    )
    op.create_index(op.f("ix_latest_session_session_id"), "latest_session", ["session_id"],
                    unique=False)
    op.execute("INSERT INTO latest_session (object_type, object_id, session_id) "
               "SELECT object_type, object_id, max(id) FROM minke_session "
               "GROUP BY object_type, object_id")


def downgrade():
    op.drop_index(op.f("ix_latest_session_session_id"), table_name="latest_session")
    op.drop_table("latest_session")
