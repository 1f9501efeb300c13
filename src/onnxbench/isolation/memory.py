"""The memory a worker process holds: its peak and current resident set (host RAM).

Device memory is the runtime's to say (``Runtime.device_memory()``); this is the host
side, the same for every runtime and scenario.
"""

from __future__ import annotations

import resource


def peak_memory_mb() -> dict[str, float]:
    """Peak and current RSS of this process, in MB."""
    import psutil

    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"peak_rss_mb": round(peak_kb / 1024.0, 3),
            "rss_mb": round(psutil.Process().memory_info().rss / 2**20, 3)}


__all__ = ["peak_memory_mb"]
