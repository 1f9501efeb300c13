"""Saved weights are data: written as safetensors, read without unpickling code.

A pickle (``model.pt``, ``pytorch_model.bin``) can run any code while it loads; a run
directory or a weights folder may come from someone else. So:

- ``save_state`` writes a module's state dict as ``model.safetensors`` (tensors only);
- ``load_state`` reads safetensors, or a legacy ``.pt`` only through
  ``torch.load(weights_only=True)`` (explicit, so ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``
  cannot turn it off), and refuses anything else in one line;
- ``check_weights_folder`` refuses a transformers weights folder whose only weights are a
  pickle that ``weights_only`` cannot load, before transformers opens it.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from onnxbench.core.errors import UserError

STATE_FILE = "model.safetensors"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def save_state(module, folder: Path) -> str:
    """Write ``module``'s weights into ``folder``; returns the file name for artifact.json."""
    from safetensors.torch import save_model

    save_model(module, str(Path(folder) / STATE_FILE))  # shared (tied) tensors saved once
    return STATE_FILE


def load_state(module, path: Path) -> None:
    """Fill ``module`` from ``path`` (safetensors, or a weights-only pickle); UserError if
    the file is neither."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_model

        try:
            load_model(module, str(path), strict=True)
        except (OSError, ValueError, RuntimeError) as exc:
            raise UserError(f"{path}: cannot load these weights ({_first(exc)})") from None
        return
    module.load_state_dict(load_pickle_weights(path))


def load_pickle_weights(path: Path):
    """``torch.load(path, weights_only=True)``: tensors and plain containers, never code."""
    import warnings

    import torch

    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": not one line
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError,
            ImportError, TypeError) as exc:
        raise UserError(f"{path}: not a weights-only PyTorch file ({_why(exc)}); loading it "
                        "could run code, so it is refused: convert it to safetensors where "
                        "it was made") from None


def _why(exc: BaseException) -> str:
    """torch's reason, without its advice to load with weights_only=False."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if "WeightsUnpickler error" in line:
            rest = line.split("WeightsUnpickler error:", 1)[-1].strip()
            rest = rest or (lines[i + 1] if i + 1 < len(lines) else "?")
            return f"weights-only unpickler: {rest.split('. ')[0].rstrip('.')}"
    return _first(exc)


def check_weights_folder(folder: Path) -> bool:
    """Whether a transformers weights ``folder`` has safetensors (then only those are read);
    without them, each pickle in it must load with ``weights_only=True`` (UserError)."""
    folder = Path(folder)
    if any(folder.glob("*.safetensors")):
        return True
    for path in sorted(p for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES):
        load_pickle_weights(path)
    return False


def _first(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0][:160]}" if lines else type(exc).__name__
