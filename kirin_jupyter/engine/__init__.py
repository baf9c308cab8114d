"""The loop thread, jobs, the runner, polling, progress, adaptive concurrency.
"""
