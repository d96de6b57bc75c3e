"""host disabled reason: why an admin disabled a host

``host.disabled_reason`` is shown in the object lists and in the message of a
session that was not run because its host is disabled.

Revision ID: 9d41c6b2e7a3
Revises: 4c8e1f2a7b90
Create Date: 2026-12-01 18:45:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "9d41c6b2e7a3"
down_revision = "4c8e1f2a7b90"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("host", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("disabled_reason", sa.String(300), nullable=False, server_default="")
        )


def downgrade():
    with op.batch_alter_table("host", schema=None) as batch_op:
        batch_op.drop_column("disabled_reason")
