"""A chunk's render as a worker sees it: leases (claim, complete, fail, hand back), failure accounting,
the take loop of the quality, speaker and read-back gates, finalization (encode or stitch, upload,
complete) with its captions timeline, and the fault-injection wrappers. Imports core.jobs (plans and
seeds) and everything below it.
"""
