"""voxfarm's framework-free core: settings, models, storage, job lifecycle, text planning.

Nothing under ``core`` imports Flask, Celery or torch (tests/test_boundaries.py checks it), so the
same functions serve the API, the workers, the CLI and the tests.
"""
