"""host group ask_secrets: secrets asked before a run on the group's hosts

``host_group.ask_secrets`` is a JSON list of secret names
(``ssh_key_passphrase``, ``ssh_password``, ``sudo_password``; see
sessions/secrets.py). The values are asked for before each run and never
stored: only the names are.

Revision ID: 5d1e8b7a4c21
Revises: 7d3b5e9a1c42
Create Date: 2026-12-01 18:40:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5d1e8b7a4c21"
down_revision = "7d3b5e9a1c42"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("host_group", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ask_secrets", sa.JSON(), nullable=False,
                                      server_default="[]"))


def downgrade():
    with op.batch_alter_table("host_group", schema=None) as batch_op:
        batch_op.drop_column("ask_secrets")
