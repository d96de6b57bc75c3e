"""what changed since the previous run: a hash of each command's output (issue 21)

``command_result.stdout_sha256``: SHA-256 (hex) of a command's whole stdout, computed
by the worker as the output streams (its size is ``stdout_bytes``). Rows stored before
this revision have none: a session whose previous run has no hashes counts as ``new``.
``minke_session.change``: ``changed`` / ``unchanged`` / ``new`` against the same
session's previous completed run on the same object, set when the session completes.

Revision ID: b1d2c3e4f501
Revises: f3a8d2c6b417
Create Date: 2026-12-06 07:30:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b1d2c3e4f501"
down_revision = "f3a8d2c6b417"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("command_result") as batch:
        batch.add_column(sa.Column("stdout_sha256", sa.String(length=64), nullable=True))
    with op.batch_alter_table("minke_session") as batch:
        batch.add_column(sa.Column("change", sa.String(length=10), nullable=True))


def downgrade():
    with op.batch_alter_table("minke_session") as batch:
        batch.drop_column("change")
    with op.batch_alter_table("command_result") as batch:
        batch.drop_column("stdout_sha256")
    if op.get_bind().dialect.name == "sqlite":
        # dropping a column rebuilt minke_session and its trigger with it: the trigger of
        # migration 4c8e1f2a7b90 again (adding the column, above, rebuilds nothing)
        op.execute("CREATE TRIGGER IF NOT EXISTS tr_latest_session_status AFTER UPDATE OF "
                   "proc_status, session_status ON minke_session BEGIN "
                   "UPDATE latest_session SET proc_status = NEW.proc_status, "
                   "session_status = NEW.session_status WHERE session_id = NEW.id; END")
