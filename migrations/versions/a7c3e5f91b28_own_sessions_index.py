"""own sessions index: each user's latest session per object, for own-runs users

A user limited to their own runs sees in the object lists the status of each
object's latest session *of theirs* (webapp/permissions.statuses_of); the lists
find it as ``max(id)`` over the user's sessions of the object, which this index
answers with one descent, and count by status from the user's sessions alone.

Revision ID: a7c3e5f91b28
Revises: e4b7a2c9d153
Create Date: 2026-12-02 10:00:00
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "a7c3e5f91b28"
down_revision = "e4b7a2c9d153"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_minke_session_user_object", "minke_session",
                    ["user_id", "object_type", "object_id", "id"], unique=False)


def downgrade():
    op.drop_index("ix_minke_session_user_object", table_name="minke_session")
