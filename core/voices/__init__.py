"""Registered voice prompts: registration (decode, QA, store), the voice-QA measurements, and the
speaker-embedding arithmetic of the consistency gate. Imports the kernel, core.audio, core.engines,
core.state and core.storage.
"""
