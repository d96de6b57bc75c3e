"""notification channels, subscriptions and deliveries (issue 21)

``notification_channel``: a user's email address, webhook (with its signing key,
encrypted) or Slack/Mattermost URL. ``notification_subscription``: which runs (a
session's, a schedule's, the user's own), which events, on which channel, and whether
only when the output changed. ``notification_delivery``: every delivery attempt and its
answer; ``retrying`` ones wait for ``next_attempt_at``.

Revision ID: b1d2c3e4f503
Revises: b1d2c3e4f502
Create Date: 2026-12-06 07:30:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b1d2c3e4f503"
down_revision = "b1d2c3e4f502"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notification_channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("sealed_secret", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"],
                                name="fk_notification_channel_user_id_user", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_notification_channel"),
    )
    op.create_index("ix_notification_channel_user_id", "notification_channel", ["user_id"])
    op.create_table(
        "notification_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("session_name", sa.String(length=200), nullable=True),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("only_changed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"],
                                name="fk_notification_subscription_user_id_user",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["channel_id"], ["notification_channel.id"],
                                name="fk_notification_subscription_channel_id_notification_channel",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedule.id"],
                                name="fk_notification_subscription_schedule_id_schedule",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_notification_subscription"),
    )
    for column in ("user_id", "channel_id", "session_name", "schedule_id"):
        op.create_index(f"ix_notification_subscription_{column}", "notification_subscription",
                        [column])
    op.create_table(
        "notification_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["notification_channel.id"],
                                name="fk_notification_delivery_channel_id_notification_channel",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subscription_id"], ["notification_subscription.id"],
                                name="fk_notification_delivery_subscription",
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], name="fk_notification_delivery_run_id_run",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_notification_delivery"),
    )
    op.create_index("ix_notification_delivery_channel_id", "notification_delivery",
                    ["channel_id"])
    op.create_index("ix_notification_delivery_created_at", "notification_delivery",
                    ["created_at"])
    op.create_index("ix_notification_delivery_due", "notification_delivery",
                    ["status", "next_attempt_at"])


def downgrade():
    op.drop_table("notification_delivery")
    op.drop_table("notification_subscription")
    op.drop_table("notification_channel")
