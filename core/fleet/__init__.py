"""Which workers are alive and what the farm owes: worker heartbeats as rows, the figures behind
/metrics' gauges, and the Prometheus metrics themselves. Imports the kernel and core.state.
"""
