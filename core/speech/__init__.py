"""OpenAI-compatible speech: a ``POST /v1/audio/speech`` request as an ordinary interactive job, and
the stream that encodes its chunks as they finish (with their times, core.render.timings). Imports
core.jobs, core.audio, core.render, core.state and core.storage.
"""
