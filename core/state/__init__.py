"""What the database records about work in flight and how it changes: the only code that changes a
status (lifecycle), the transactional outbox whose rows are published after commit, and the webhook
events written in the same transaction. Imports the kernel only.
"""
