"""Voices: QA measurements (speech duration, SNR), one-shot prompts (registered = false), dialogue
voice maps on jobs, and names unique per tenant among live registered voices.

Existing duplicate live names are made unique first (every copy but the oldest gets its id
appended), so the unique index can be built on a farm that allowed duplicates.

Revision ID: 0012
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("voices") as batch:
        batch.add_column(sa.Column("speech_s", sa.Double(), nullable=True))
        batch.add_column(sa.Column("snr_db", sa.Double(), nullable=True))
        batch.add_column(sa.Column("registered", sa.Boolean(), server_default=sa.true(), nullable=False))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("voices", sa.JSON(), nullable=True))
    op.execute(sa.text(
        "UPDATE voices SET name = substr(name, 1, 150) || ' ' || id WHERE deleted_at IS NULL AND EXISTS ("
        "SELECT 1 FROM voices older WHERE older.tenant_id = voices.tenant_id AND older.name = voices.name "
        "AND older.deleted_at IS NULL AND older.id < voices.id)"))
    op.create_index("uq_voices_tenant_name", "voices", ["tenant_id", "name"], unique=True,
                    postgresql_where=sa.text("deleted_at IS NULL AND registered"),
                    sqlite_where=sa.text("deleted_at IS NULL AND registered"))


def downgrade() -> None:
    op.drop_index("uq_voices_tenant_name", table_name="voices")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("voices")
    with op.batch_alter_table("voices") as batch:
        batch.drop_column("registered")
        batch.drop_column("snr_db")
        batch.drop_column("speech_s")
