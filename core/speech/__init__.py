"""OpenAI-compatible speech: a ``POST /v1/audio/speech`` request as an ordinary interactive job, and
the stream that encodes its chunks as they finish. Imports core.jobs, core.audio, core.state and
core.storage.
"""
