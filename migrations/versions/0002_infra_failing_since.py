"""jobs.infra_failing_since (start of a job's current outage), chunks.engine_at (render reached the engine)

Revision ID: 0002
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

import voxfarm.core.db

revision = '0002'
down_revision = '0011'  # chained after 0010_usage and 0011_batches
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs') as batch:
        batch.add_column(sa.Column('infra_failing_since', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('chunks') as batch:
        batch.add_column(sa.Column('engine_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('chunks') as batch:
        batch.drop_column('engine_at')
    with op.batch_alter_table('jobs') as batch:
        batch.drop_column('infra_failing_since')
