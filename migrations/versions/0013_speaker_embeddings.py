"""Speaker embeddings on voices and the consistency gate's record on chunks.

Voices get the embedding a worker computes at registration (``embedding``, the encoder that made
it, and the split-half similarity the gate's default threshold derives from).  Chunks get the
kept take's seed, its cosine to the voice, and a flag when no take reached the threshold.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("voices") as batch:
        batch.add_column(sa.Column("embedding", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("embedding_model", sa.String(256), nullable=True))
        batch.add_column(sa.Column("embedding_self_similarity", sa.Double(), nullable=True))
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("take_seed", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("speaker_similarity", sa.Double(), nullable=True))
        batch.add_column(sa.Column("speaker_flagged", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("speaker_flagged")
        batch.drop_column("speaker_similarity")
        batch.drop_column("take_seed")
    with op.batch_alter_table("voices") as batch:
        batch.drop_column("embedding_self_similarity")
        batch.drop_column("embedding_model")
        batch.drop_column("embedding")
