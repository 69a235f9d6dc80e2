"""Job intake and planning: validate a request, resolve its voice, plan the text into chapters and
chunks with content cache keys, write job + chunks + outbox in one transaction, dispatch fairly
across tenants and priority lanes, idempotency keys, the text front end (front.py: lexicons,
normalisation, chapter titles read aloud), and the JSON resources the API returns. Imports core.voices,
core.fleet, core.state, core.audio, core.engines, core.text, core.tenants, core.storage and the kernel.
"""
