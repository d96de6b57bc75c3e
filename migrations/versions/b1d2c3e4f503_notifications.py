"""notification channels, subscriptions and deliveries (issue 21)

Revision ID: b1d2c3e4f503
Revises: b1d2c3e4f502
Create Date: 2026-12-06 07:30:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

# revision identifiers, used by Alembic.
revision = "b1d2c3e4f503"
down_revision = "b1d2c3e4f502"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
