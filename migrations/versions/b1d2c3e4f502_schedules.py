"""schedules and their firings (issue 21)

``schedule``: a session, its target (names or a filter, resolved at each firing), its
form data, a cron expression or an interval in a time zone, its owner, enabled or
paused (with the reason), its policies for missed firings and overlapping runs, and
its next due time, which each firing claims by moving it on.
``schedule_firing``: one due time of a schedule and what came of it; unique per
schedule and due time, the database's guarantee that a firing starts one run.
``run.schedule_id``: the schedule that started the run.

Revision ID: b1d2c3e4f502
Revises: b1d2c3e4f501
Create Date: 2026-12-06 07:30:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b1d2c3e4f502"
down_revision = "b1d2c3e4f501"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("session_name", sa.String(length=200), nullable=False),
        sa.Column("target", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("cron", sa.String(length=120), nullable=True),
        sa.Column("interval", sa.Integer(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("paused_reason", sa.String(length=300), nullable=True),
        sa.Column("missed", sa.String(length=10), nullable=False),
        sa.Column("overlap", sa.String(length=10), nullable=False),
        sa.Column("next_due_at", sa.DateTime(), nullable=True),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["user.id"], name="fk_schedule_owner_id_user",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_schedule"),
        sa.UniqueConstraint("name", name="uq_schedule_name"),
    )
    op.create_index("ix_schedule_owner_id", "schedule", ["owner_id"])
    op.create_index("ix_schedule_next_due_at", "schedule", ["next_due_at"])
    op.create_table(
        "schedule_firing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("fired_at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedule.id"],
                                name="fk_schedule_firing_schedule_id_schedule",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], name="fk_schedule_firing_run_id_run",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_schedule_firing"),
        sa.UniqueConstraint("schedule_id", "due_at", name="uq_schedule_firing_due"),
    )
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("schedule_id", sa.Integer(), nullable=True))
        batch.create_index("ix_run_schedule_id", ["schedule_id"])
        batch.create_foreign_key("fk_run_schedule_id_schedule", "schedule", ["schedule_id"],
                                 ["id"], ondelete="SET NULL")


def downgrade():
    with op.batch_alter_table("run") as batch:
        batch.drop_constraint("fk_run_schedule_id_schedule", type_="foreignkey")
        batch.drop_index("ix_run_schedule_id")
        batch.drop_column("schedule_id")
    op.drop_table("schedule_firing")
    op.drop_index("ix_schedule_next_due_at", table_name="schedule")
    op.drop_index("ix_schedule_owner_id", table_name="schedule")
    op.drop_table("schedule")
