"""what changed since the previous run: a hash of each command's output (issue 21)

Revision ID: b1d2c3e4f501
Revises: f3a8d2c6b417
Create Date: 2026-12-06 07:30:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

# revision identifiers, used by Alembic.
revision = "b1d2c3e4f501"
down_revision = "f3a8d2c6b417"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
