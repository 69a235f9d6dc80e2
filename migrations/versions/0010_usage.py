"""Usage accounting: each chunk's share of its batch's engine time.

Revision ID: 0010
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("engine_s", sa.Double(), nullable=True))
    op.create_index("ix_chunks_tenant_finished", "chunks", ["tenant_id", "finished_at"])


def downgrade() -> None:
    op.drop_index("ix_chunks_tenant_finished", table_name="chunks")
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("engine_s")
