"""Alembic migrations (shipped as a package so an installed voxfarm can migrate itself)."""
