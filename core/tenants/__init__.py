"""Tenants, API keys, usage accounting read from the chunk records, and each tenant's pronunciation
lexicons (rules read by core.text: JSON or W3C PLS). Imports core.state, core.text and the kernel.
"""
