"""The kernel every layer shares: settings, the SQL store (records, ids, outbox), blobs, digests.

It imports nothing else of the project (the import contract in ``.importlinter`` says so).
"""
