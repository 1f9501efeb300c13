"""Imported by the fork server (never elsewhere): the parent's main script, once, for all.

A child forked by multiprocessing's fork server imports the parent's ``__main__`` script
again (as ``__mp_main__``) unless the fork server already did. The ``"__main__"`` preload is
meant for that, but CPython 3.11 never hands the fork server the script's path, so each
worker paid for the script's imports: under Ray, whose worker script imports Ray, about
0.6 s a case. This imports the script (``ONNXBENCH_PARENT_MAIN``: its path and the
parent's ``sys.argv``, which a child sees too) as multiprocessing would have; if that
fails, each child imports it itself, as before. The parent names its script only when the
fork server starts for a function defined in it (``worker._prime``): a worker of onnxbench's
own functions starts with ``__main__`` hidden and needs no script, and a user's unguarded
script imported here would run its whole benchmark inside the fork server (issue #24).
"""

import json
import os
import sys
from multiprocessing import process, spawn

from onnxbench.isolation.lifeline import MAIN_ENV


def import_parent_main() -> None:
    try:
        told = json.loads(os.environ.get(MAIN_ENV) or "{}")
    except ValueError:
        return
    path = told.get("path")
    if not path or not os.path.isfile(path):
        return
    sys.argv = list(told.get("argv") or [path])
    process.current_process()._inheriting = True  # type: ignore[attr-defined]  # as forkserver.main
    try:
        spawn.import_main_path(path)
    except BaseException:  # noqa: BLE001 - a script that will not import here fails per worker
        pass
    finally:
        del process.current_process()._inheriting  # type: ignore[attr-defined]


import_parent_main()
