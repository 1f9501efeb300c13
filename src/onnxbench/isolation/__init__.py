"""Isolation: one process per case (worker, fork-server guard, lifeline, OOM, memory, threads,
environment).
"""
