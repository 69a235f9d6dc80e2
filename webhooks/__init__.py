"""Signed, retried, recorded webhook delivery (Standard Webhooks)."""
