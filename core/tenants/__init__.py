"""Tenants, API keys and usage accounting read from the chunk records. Imports core.state and the
kernel.
"""
