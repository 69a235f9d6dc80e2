"""Bulk intake: many jobs in one request, one transaction, one bulk publish; batch progress and the
manifest. Imports core.jobs, core.state and the kernel.
"""
