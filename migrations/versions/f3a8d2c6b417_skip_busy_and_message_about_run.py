"""busy hosts: a run's choice to skip them, and the run a message names

``run.skip_busy``: the run cancels the sessions of hosts another run holds instead
of waiting for them (stored so that a re-run keeps the choice).
``message.about_run``: the run a message names (a lock's holder), kept out of the
message's payload so that only viewers who may see that run are shown it.

Revision ID: f3a8d2c6b417
Revises: a7c3e5f91b28
Create Date: 2026-12-02 11:00:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f3a8d2c6b417"
down_revision = "a7c3e5f91b28"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("skip_busy", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("about_run", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("message") as batch:
        batch.drop_column("about_run")
    with op.batch_alter_table("run") as batch:
        batch.drop_column("skip_busy")
