"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 03:08:28.825028
"""
import sqlalchemy as sa
from alembic import op

import voxfarm.core.db

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idempotency_keys',
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('completed', sa.Boolean(), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('created_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'scope', 'key')
    )
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_keys_expires_at'), ['expires_at'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('task', sa.String(length=64), nullable=False),
    sa.Column('args', sa.JSON(), nullable=False),
    sa.Column('queue', sa.String(length=64), nullable=False),
    sa.Column('created_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_unpublished', ['published_at', 'id'], unique=False)

    op.create_table('tenants',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('webhook_url', sa.String(length=2048), nullable=True),
    sa.Column('webhook_secret', sa.String(length=128), nullable=False),
    sa.Column('webhook_secret_prev', sa.String(length=128), nullable=True),
    sa.Column('webhook_secret_prev_until', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('workers',
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('engine', sa.String(length=32), nullable=False),
    sa.Column('model', sa.String(length=256), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('queues', sa.JSON(), nullable=False),
    sa.Column('max_batch_size', sa.Integer(), nullable=False),
    sa.Column('max_wait_ms', sa.Double(), nullable=False),
    sa.Column('concurrency', sa.Integer(), nullable=False),
    sa.Column('hostname', sa.String(length=200), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('stats', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('api_keys',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('prefix')
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.Enum('queued', 'running', 'succeeded', 'failed', 'canceled', name='jobstatus', native_enum=False, length=16), nullable=False),
    sa.Column('engine', sa.String(length=32), nullable=False),
    sa.Column('model', sa.String(length=256), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('source', sa.JSON(), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=True),
    sa.Column('author', sa.String(length=500), nullable=True),
    sa.Column('voice_id', sa.String(length=40), nullable=True),
    sa.Column('voice_sha256', sa.String(length=64), nullable=True),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('output', sa.JSON(), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('webhook', sa.JSON(), nullable=True),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('progress_done', sa.Integer(), nullable=False),
    sa.Column('progress_total', sa.Integer(), nullable=False),
    sa.Column('cache_hits', sa.Integer(), nullable=False),
    sa.Column('result_key', sa.String(length=512), nullable=True),
    sa.Column('result_format', sa.String(length=8), nullable=True),
    sa.Column('result_duration_s', sa.Double(), nullable=True),
    sa.Column('result_bytes', sa.BigInteger(), nullable=True),
    sa.Column('result_sha256', sa.String(length=64), nullable=True),
    sa.Column('result_extras', sa.JSON(), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('render_worker', sa.String(length=200), nullable=True),
    sa.Column('render_batch_size', sa.Integer(), nullable=True),
    sa.Column('cancel_requested_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finalize_owner', sa.String(length=200), nullable=True),
    sa.Column('finalize_expires_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finalize_attempts', sa.Integer(), nullable=False),
    sa.Column('progress_event_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('progress_event_pct', sa.Integer(), nullable=False),
    sa.Column('created_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_status', ['status'], unique=False)
        batch_op.create_index('ix_jobs_tenant_created', ['tenant_id', 'created_at', 'id'], unique=False)

    op.create_table('voices',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('transcript', sa.Text(), nullable=False),
    sa.Column('original_key', sa.String(length=512), nullable=False),
    sa.Column('original_format', sa.String(length=16), nullable=False),
    sa.Column('normalized_key', sa.String(length=512), nullable=False),
    sa.Column('sample_rate', sa.Integer(), nullable=False),
    sa.Column('channels', sa.Integer(), nullable=False),
    sa.Column('duration_s', sa.Double(), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('normalized_sha256', sa.String(length=64), nullable=False),
    sa.Column('deleted_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('voices', schema=None) as batch_op:
        batch_op.create_index('ix_voices_tenant_created', ['tenant_id', 'created_at', 'id'], unique=False)

    op.create_table('webhook_endpoints',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('disabled_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('disabled_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'url')
    )
    op.create_table('chunks',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('job_id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('idx', sa.Integer(), nullable=False),
    sa.Column('chapter', sa.Integer(), nullable=False),
    sa.Column('pause_after', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('expected_s', sa.Double(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('cache_key', sa.String(length=512), nullable=False),
    sa.Column('status', sa.Enum('pending', 'running', 'done', 'failed', 'canceled', name='chunkstatus', native_enum=False, length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=200), nullable=True),
    sa.Column('lease_expires_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('enqueued_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('enqueue_count', sa.Integer(), nullable=False),
    sa.Column('cache_hit', sa.Boolean(), nullable=False),
    sa.Column('quality_retries', sa.Integer(), nullable=False),
    sa.Column('duration_s', sa.Double(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('batch_size', sa.Integer(), nullable=True),
    sa.Column('worker', sa.String(length=200), nullable=True),
    sa.Column('started_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('created_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id', 'idx')
    )
    with op.batch_alter_table('chunks', schema=None) as batch_op:
        batch_op.create_index('ix_chunks_status_enqueued', ['status', 'enqueued_at'], unique=False)

    op.create_table('webhook_events',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('job_id', sa.String(length=40), nullable=False),
    sa.Column('endpoint_id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'delivered', 'failed', 'disabled', name='eventstatus', native_enum=False, length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('enqueued_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('created_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_events_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_webhook_events_job', ['job_id'], unique=False)

    op.create_table('webhook_attempts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=40), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', voxfarm.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['webhook_events.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'attempt')
    )


def downgrade() -> None:
    op.drop_table('webhook_attempts')
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_events_job')
        batch_op.drop_index('ix_webhook_events_due')

    op.drop_table('webhook_events')
    with op.batch_alter_table('chunks', schema=None) as batch_op:
        batch_op.drop_index('ix_chunks_status_enqueued')

    op.drop_table('chunks')
    op.drop_table('webhook_endpoints')
    with op.batch_alter_table('voices', schema=None) as batch_op:
        batch_op.drop_index('ix_voices_tenant_created')

    op.drop_table('voices')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_tenant_created')
        batch_op.drop_index('ix_jobs_status')

    op.drop_table('jobs')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_tenant_id'))

    op.drop_table('api_keys')
    op.drop_table('workers')
    op.drop_table('tenants')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_unpublished')

    op.drop_table('outbox')
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_keys_expires_at'))

    op.drop_table('idempotency_keys')
