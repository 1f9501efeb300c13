"""Core: the data that crosses processes (Case, options, policy, records, errors). Imports nothing
else of onnxbench.
"""
