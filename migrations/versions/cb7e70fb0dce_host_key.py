"""host key: each host's SSH host key, remembered on first use

``host.host_key`` holds the key a host presented (``<type> <base64>``, as in
known_hosts), learned on the first connection or accepted by an admin with
``flask minke host accept-key NAME``; webapp/engine/ssh/hostkeys.py checks it.

Revision ID: cb7e70fb0dce
Revises: 3f2a9c7d1e04
Create Date: 2026-11-26 02:00:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "cb7e70fb0dce"
down_revision = "3f2a9c7d1e04"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("host", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host_key", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("host", schema=None) as batch_op:
        batch_op.drop_column("host_key")
