"""commands defined in the browser: command, command_group, command_order, command_revision

Revision ID: 7d3b5e9a1c42
Revises: 9d41c6b2e7a3
Create Date: 2026-12-01 18:45:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "7d3b5e9a1c42"
down_revision = "9d41c6b2e7a3"
branch_labels = None
depends_on = None


def _defined_columns():
    return [
        sa.Column("label", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    ]


def upgrade():
    op.create_table(
        "command",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cmd", sa.Text(), nullable=False),
        *_defined_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_command")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "command_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("as_options", sa.Boolean(), nullable=False),
        *_defined_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_command_group")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "command_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("command_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["command_id"], ["command.id"],
                                name=op.f("fk_command_order_command_id_command"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["group_id"], ["command_group.id"],
                                name=op.f("fk_command_order_group_id_command_group"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_command_order")),
        sa.UniqueConstraint("group_id", "position", name=op.f("uq_command_order_group_id")),
    )
    with op.batch_alter_table("command_order", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_command_order_command_id"), ["command_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_command_order_group_id"), ["group_id"],
                              unique=False)
    op.create_table(
        "command_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_command_revision")),
    )


def downgrade():
    op.drop_table("command_revision")
    with op.batch_alter_table("command_order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_command_order_group_id"))
        batch_op.drop_index(batch_op.f("ix_command_order_command_id"))
    op.drop_table("command_order")
    op.drop_table("command_group")
    op.drop_table("command")
