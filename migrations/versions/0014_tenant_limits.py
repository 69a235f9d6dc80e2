"""Per-tenant limits: each tenant's own values, the limiter's state in the embedded stack, and an
index for summing a tenant's queued audio at intake.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("limits", sa.JSON(), nullable=True))
    op.create_table(
        "limit_state",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "key"),
    )
    op.create_index("ix_chunks_tenant_status", "chunks", ["tenant_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_chunks_tenant_status", table_name="chunks")
    op.drop_table("limit_state")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("limits")
