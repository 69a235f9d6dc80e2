"""Repair and cleanup that run on a schedule: the reconciler (re-sends what the broker lost, relays the
outbox, expires idempotency keys) and the storage sweep. Imports core.jobs, core.fleet, core.state,
core.voices and the kernel.
"""
