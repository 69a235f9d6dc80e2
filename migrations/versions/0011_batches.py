"""Bulk intake: a batches table, and each job's batch and item index.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

import voxfarm.core.db

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'batches',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('tenant_id', sa.String(length=40), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('metadata', sa.JSON(), nullable=False),
        sa.Column('webhook', sa.JSON(), nullable=True),
        sa.Column('cancel_requested_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('completed_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_batches_tenant_created', 'batches', ['tenant_id', 'created_at', 'id'])
    with op.batch_alter_table('jobs') as batch:
        batch.add_column(sa.Column('batch_id', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('batch_index', sa.Integer(), nullable=True))
    op.create_index('ix_jobs_batch', 'jobs', ['batch_id', 'batch_index'])


def downgrade() -> None:
    op.drop_index('ix_jobs_batch', table_name='jobs')
    with op.batch_alter_table('jobs') as batch:
        batch.drop_column('batch_index')
        batch.drop_column('batch_id')
    op.drop_index('ix_batches_tenant_created', table_name='batches')
    op.drop_table('batches')
