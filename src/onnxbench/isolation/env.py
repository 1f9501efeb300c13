"""The measurement-environment fingerprint that every benchmark result carries.

A latency means little without the machine it came from: CPU model and cores, RAM, GPUs
(driver, CUDA), OS and kernel, and the versions of every library on the timed path, plus
the thread settings that change results (OMP_NUM_THREADS and friends).

``collect()`` is cached per process (py-cpuinfo alone takes about a second) and returns a
fresh copy each call, so callers may add to it. Nothing here fails on a machine without a
GPU or without a library: a missing piece is recorded as ``None`` or an empty list.
"""

from __future__ import annotations

import copy
import os
import platform
import sys
from functools import lru_cache
from importlib import metadata
from typing import Any

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                   "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "OMP_PROC_BIND",
                   "OMP_PLACES", "KMP_AFFINITY", "ORT_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
                   "TORCH_NUM_THREADS")
PACKAGES = ("onnxbench", "numpy", "onnx", "onnxruntime", "onnxruntime-gpu", "onnxscript",
            "torch", "transformers", "deepctr-torch", "scipy")


def collect() -> dict[str, Any]:
    """The environment fingerprint as a JSON-ready dict (cached per process, copied out)."""
    return copy.deepcopy(_collect_cached())


@lru_cache(maxsize=1)
def _collect_cached() -> dict[str, Any]:
    return {
        "cpu": _cpu(),
        "memory": _memory(),
        "gpus": _gpus(),
        "os": _os(),
        "python": {"version": platform.python_version(),
                   "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "packages": _packages(),
        "torch": _torch(),
        "onnxruntime": _onnxruntime(),
        "threads_env": {k: os.environ[k] for k in THREAD_ENV_VARS if k in os.environ},
    }


def _cpu() -> dict[str, Any]:
    import psutil

    info: dict[str, Any] = {}
    try:
        import cpuinfo

        info = cpuinfo.get_cpu_info()
    except Exception:  # noqa: BLE001 - py-cpuinfo can fail any way in odd sandboxes; the rest still matters
        pass
    max_mhz = None
    try:
        freq = psutil.cpu_freq()
        if freq and freq.max:
            max_mhz = round(freq.max, 1)
    # AttributeError: psutil has no cpu_freq on this platform; the rest: cpufreq files
    # missing or odd in VMs/containers
    except (AttributeError, OSError, ValueError, NotImplementedError, psutil.Error):
        pass
    if max_mhz is None and info.get("hz_advertised"):
        max_mhz = round(info["hz_advertised"][0] / 1e6, 1)
    return {
        "model": info.get("brand_raw") or platform.processor() or None,
        "arch": info.get("arch_string_raw") or platform.machine(),
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_threads": psutil.cpu_count(logical=True),
        "affinity_threads": (len(os.sched_getaffinity(0))
                             if hasattr(os, "sched_getaffinity") else None),
        "max_freq_mhz": max_mhz,
        "flags_avx512": any(f.startswith("avx512") for f in info.get("flags", [])) or None,
        "l3_cache": info.get("l3_cache_size"),
    }


def _memory() -> dict[str, Any]:
    import psutil

    return {"total_gb": round(psutil.virtual_memory().total / 2**30, 2)}


def _gpus() -> list[dict[str, Any]]:
    """Each GPU via NVML; an empty list where there is no NVIDIA driver."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return []
    try:
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        cuda = pynvml.nvmlSystemGetCudaDriverVersion_v2()
        cuda_str = f"{cuda // 1000}.{(cuda % 1000) // 10}"
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            try:
                cc = ".".join(map(str, pynvml.nvmlDeviceGetCudaComputeCapability(h)))
            except pynvml.NVMLError:
                cc = None
            gpus.append({"index": i, "name": _text(pynvml.nvmlDeviceGetName(h)),
                         "memory_total_mb": round(mem.total / 2**20),
                         "compute_capability": cc, "driver": driver, "cuda_driver": cuda_str})
        return gpus
    except pynvml.NVMLError:
        return []
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _os() -> dict[str, Any]:
    pretty = None
    try:
        pretty = platform.freedesktop_os_release().get("PRETTY_NAME")
    except (OSError, AttributeError):
        pass
    return {"system": platform.system(), "release": pretty or platform.release(),
            "kernel": platform.release(), "platform": platform.platform(),
            "hostname": platform.node()}


def _packages() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _torch() -> dict[str, Any] | None:
    try:
        import torch
    except Exception:  # noqa: BLE001 - a broken install can raise anything at import; env capture goes on
        return None
    cudnn = None
    try:
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    except (RuntimeError, OSError):  # a cuDNN library that will not load
        pass
    return {"version": torch.__version__, "cuda": torch.version.cuda, "cudnn": cudnn,
            "cuda_available": bool(torch.cuda.is_available()),
            "num_threads": torch.get_num_threads(),
            "num_interop_threads": torch.get_num_interop_threads()}


def _onnxruntime() -> dict[str, Any] | None:
    try:
        import onnxruntime as ort
    except Exception:  # noqa: BLE001 - a broken install can raise anything at import; env capture goes on
        return None
    return {"version": ort.__version__, "device": ort.get_device(),
            "providers": list(ort.get_available_providers())}


def as_rows(env: dict[str, Any]) -> list[tuple[str, str]]:
    """Human-readable (field, value) rows for the environment table."""
    cpu, tor, ort = env.get("cpu") or {}, env.get("torch"), env.get("onnxruntime")
    pk = env.get("packages") or {}
    freq = cpu.get("max_freq_mhz")
    rows = [
        ("CPU", str(cpu.get("model") or "unknown")),
        ("Cores (physical / logical)",
         f"{cpu.get('physical_cores')} / {cpu.get('logical_threads')}"),
        ("Max frequency", f"{freq:g} MHz" if freq else "unknown"),
        ("RAM", f"{(env.get('memory') or {}).get('total_gb')} GiB"),
    ]
    gpus = env.get("gpus") or []
    rows += [(f"GPU {g['index']}", f"{g['name']}, {g['memory_total_mb']} MiB, "
              f"driver {g['driver']}, CUDA {g['cuda_driver']}") for g in gpus] or [("GPU", "none")]
    osd = env.get("os") or {}
    rows += [
        ("OS", f"{osd.get('release')} ({osd.get('system')})"),
        ("Kernel", str(osd.get("kernel"))),
        ("Python", str((env.get("python") or {}).get("version"))),
        ("torch", f"{tor['version']} (CUDA {tor['cuda'] or 'none'}, cuDNN {tor['cudnn'] or 'none'})"
         if tor else "not installed"),
        ("onnx", pk.get("onnx", "not installed")),
        ("onnxruntime", ort["version"] if ort else "not installed"),
        ("ORT providers", ", ".join(ort["providers"]) if ort else "-"),
        ("transformers", pk.get("transformers", "not installed")),
        ("numpy", pk.get("numpy", "not installed")),
        ("Thread env", ", ".join(f"{k}={v}" for k, v in (env.get("threads_env") or {}).items())
         or "none set"),
    ]
    return rows


def markdown_lines(env: dict[str, Any] | None = None) -> list[str]:
    """The environment as a markdown table (benchmarks commit it beside their figures)."""
    rows = as_rows(env if env is not None else collect())
    return ["| Field | Value |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows)]
