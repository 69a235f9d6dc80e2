"""Tenants, API keys, usage accounting read from the chunk records, and per-tenant limits (rates,
open streams, queued and monthly audio) with the stores that count them (Redis or the database),
and pronunciation lexicons (rules read by core.text: JSON or W3C PLS). Imports core.state, core.text
and the kernel.
"""
