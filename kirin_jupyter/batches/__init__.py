"""Batches and sweeps: items, axes, their journal rows and their runs. They get requests,
prices and a run context; they never import the client.
"""
