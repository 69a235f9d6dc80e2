"""The text front end: pronunciation lexicons per tenant, and each chunk's spoken text.

Lexicons hold a tenant's rules (grapheme -> alias and/or IPA) as JSON, with a version that each
rule records when it changes.  Chunks get the text the engine renders (lexicon rules applied, then
the normaliser) beside the source text, and the lexicon rules that matched them.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

import voxfarm.core.db

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lexicons",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("created_at", voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_lexicons_tenant_created", "lexicons", ["tenant_id", "created_at", "id"])
    op.create_index("uq_lexicons_tenant_name", "lexicons", ["tenant_id", "name"], unique=True)
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("spoken_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("lexicon_matches", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("lexicon_matches")
        batch.drop_column("spoken_text")
    op.drop_index("uq_lexicons_tenant_name", table_name="lexicons")
    op.drop_index("ix_lexicons_tenant_created", table_name="lexicons")
    op.drop_table("lexicons")
