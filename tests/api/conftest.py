"""The API fixtures live in tests/conftest.py (tests/webhooks uses them too)."""
