"""GPU memory from the driver (NVML), for runtimes that cannot say it themselves.

PyTorch knows its own peaks (``max_memory_allocated`` / ``max_memory_reserved``, in the
torch runtimes' ``device_memory()``); ONNX Runtime's CUDA arena does not report through
PyTorch, so for it we ask the driver how much device memory this process holds, and the
device total in use as a fallback (inside containers NVML may not see our PID). Returns
``{}`` where NVML is unavailable: memory is best-effort metadata, never a reason to fail a
case. Keys all start with ``gpu_mem_``; the executor puts them into ``Result.memory``.
"""

from __future__ import annotations

import os


def nvml_index(device_id: int) -> int:
    """NVML's index of CUDA device ``device_id``: NVML numbers every GPU of the machine and
    ignores ``CUDA_VISIBLE_DEVICES``, which renumbers the ones a process sees."""
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")
               if v.strip()]
    if device_id < len(visible) and visible[device_id].isdigit():
        return int(visible[device_id])
    return device_id


def nvml_memory(device_id: int = 0) -> dict[str, float]:
    """This process's device memory and the device's used/total memory via NVML (MB);
    ``device_id`` is the CUDA device as this process sees it."""
    try:
        import pynvml
    except ImportError:
        return {}
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return {}
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(nvml_index(device_id))
        mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
        result = {"gpu_mem_device_used_mb": mem.used / 2**20,
                  "gpu_mem_device_total_mb": mem.total / 2**20}
        try:
            procs = pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
        except pynvml.NVMLError:
            procs = []
        for proc in procs:
            if proc.pid == os.getpid() and proc.usedGpuMemory is not None:
                result["gpu_mem_process_used_mb"] = proc.usedGpuMemory / 2**20
        return result
    except pynvml.NVMLError:
        return {}
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass


def cap_torch_memory(limit_mb: int, device_id: int = 0) -> dict[str, float]:
    """Cap PyTorch's caching allocator on a CUDA device at ``limit_mb`` (the option
    ``gpu_mem_limit_mb``): an allocation beyond it raises torch's OutOfMemoryError, which
    the worker records as ``oom``, as a card with that much memory would. Returns what was
    set, for ``runtime_info``."""
    import torch

    total = torch.cuda.get_device_properties(device_id).total_memory
    fraction = min(1.0, limit_mb * 2**20 / total)
    torch.cuda.set_per_process_memory_fraction(fraction, device_id)
    return {"gpu_mem_limit_mb": float(limit_mb), "gpu_mem_limit_fraction": fraction}
