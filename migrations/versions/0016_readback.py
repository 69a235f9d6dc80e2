"""Read-back: the checks a job asks for, and each chunk's take as the recogniser heard it.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("quality", sa.JSON(), nullable=True))
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("readback", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("readback_wer", sa.Double(), nullable=True))
        batch.add_column(sa.Column("readback_missing", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("readback_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("readback_detail", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chunks") as batch:
        for name in ("readback_detail", "readback_text", "readback_missing", "readback_wer", "readback"):
            batch.drop_column(name)
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("quality")
