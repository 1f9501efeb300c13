"""Imported first by the fork server (never elsewhere): it dies with onnxbench.

See ``onnxbench.isolation.lifeline``: the kernel sends SIGKILL when the process that started the
fork server exits, and the fork server exits at once if that already happened.
"""

from onnxbench.isolation.lifeline import guard_forkserver

guard_forkserver()
