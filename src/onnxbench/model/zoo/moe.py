"""A mixture-of-experts classifier on digits (or MNIST IDX files from ``data_dir``).

input -> Linear(INPUT, EMB) -> MoE(EXPERTS experts, each Linear-ReLU-Linear; linear gate +
softmax; top-k routing; weighted sum) -> Linear(EMB, 10).

Two routings of the same layer:

- ``dense`` (configs ``default``, ``top1``, ``wide``): every expert runs on every row and the
  top-k gate weights are scattered into a [batch, EXPERTS] mask (``torch.topk`` +
  ``scatter``). No Python control flow depends on the data, so the graph exports with the
  tracing and the dynamo exporters alike, at any batch size.
- ``sparse`` (config ``sparse``, as the reference wrote it): each expert runs only on the rows
  routed to it, and an expert no row chose is not run at all. ``if bool(hit.any())`` is
  Python control flow on the data: ``torch.jit.trace`` (and the TorchScript exporter, which
  traces) records the branch the *example* took, so the graph silently drops every expert
  the example did not use; ``torch.jit.script`` keeps it as an ONNX ``If``; ``torch.export``
  (dynamo) refuses the data-dependent branch with an error. The exporter matrix shows all
  three (parity over several input sets, and the lint finding ``traced-control-flow``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from onnxbench.core.errors import UserError
from onnxbench.model.zoo import register
from onnxbench.model.zoo.base import TASK_ACCURACY, ModelSpec, Predict, count_params, single_thread
from onnxbench.model.zoo.data import Split, load_split

N_CLASSES = 10


def _moe_module(n_in: int, emb: int, experts: int, top: int, hidden: int,
                routing: str = "dense"):
    """The classifier as a torch module (class defined lazily: importing the zoo stays cheap)."""
    import torch
    from torch import nn

    class MoEClassifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.top = top
            self.embed = nn.Linear(n_in, emb)
            self.experts = nn.ModuleList(
                nn.Sequential(nn.Linear(emb, hidden), nn.ReLU(), nn.Linear(hidden, emb))
                for _ in range(experts))
            self.gate = nn.Linear(emb, experts)
            self.head = nn.Linear(emb, N_CLASSES)

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            h = self.embed(pixels)
            probs = torch.softmax(self.gate(h), dim=-1)                    # [B, E]
            top_w, top_i = torch.topk(probs, self.top, dim=-1)             # [B, k]
            top_w = top_w / top_w.sum(dim=-1, keepdim=True)                # renormalise
            weights = torch.zeros_like(probs).scatter(-1, top_i, top_w)    # [B, E], k non-zero
            outs = torch.stack([expert(h) for expert in self.experts], 1)  # [B, E, EMB]
            mixed = (weights.unsqueeze(-1) * outs).sum(dim=1)              # [B, EMB]
            return self.head(mixed)

    class SparseMoEClassifier(MoEClassifier):
        """Each expert runs on its own rows only; an expert nobody chose is skipped."""

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            h = self.embed(pixels)
            probs = torch.softmax(self.gate(h), dim=-1)                    # [B, E]
            top_w, top_i = torch.topk(probs, self.top, dim=-1)             # [B, k]
            top_w = top_w / top_w.sum(dim=-1, keepdim=True)
            mixed = torch.zeros_like(h)
            for e, expert in enumerate(self.experts):
                hit = top_i == e                                           # [B, k]
                if bool(hit.any()):  # data-dependent: tracing bakes the example's answer in
                    rows = hit.any(dim=-1).nonzero().squeeze(-1)
                    w = (top_w * hit.to(top_w.dtype)).sum(dim=-1)[rows]
                    mixed = mixed.index_add(0, rows, expert(h[rows]) * w.unsqueeze(-1))
            return self.head(mixed)

    return SparseMoEClassifier() if routing == "sparse" else MoEClassifier()


class MoESpec(ModelSpec):
    name = "moe"
    metric = TASK_ACCURACY
    description = ("mixture-of-experts classifier (top-k routing); digits, or MNIST IDX via "
                   "options data_dir")
    configs = {
        "default": {"experts": 8, "top": 2, "emb": 16, "hidden": 32, "epochs": 20},
        "top1": {"experts": 8, "top": 1, "emb": 16, "hidden": 32, "epochs": 20},
        "wide": {"experts": 16, "top": 4, "emb": 64, "hidden": 128, "epochs": 15},
        # the reference's routing: only the chosen experts run (data-dependent control flow)
        "sparse": {"experts": 8, "top": 2, "emb": 16, "hidden": 32, "epochs": 20,
                   "routing": "sparse"},
    }
    default_config = "default"
    preload = ("onnxbench.model.zoo.preloads",)  # scikit-learn's digits, read once

    def settings(self, config: str | None, options: Mapping[str, Any] | None) -> dict[str, Any]:
        """The config's settings, with ``experts``/``top``/``emb``/``hidden``/``epochs``
        overridable."""
        merged = {"routing": "dense", **self.config(config)}
        for key in merged:
            if key == "routing":
                continue
            if options and key in options:
                merged[key] = int(options[key])
        if not 1 <= merged["top"] <= merged["experts"]:
            raise UserError(f"model 'moe': option top={merged['top']} must be between 1 and "
                            f"experts={merged['experts']}")
        return merged

    def describe(self, config: str | None) -> str:
        s = self.config(config)
        return (f"{s['experts']} experts, top-{s['top']} ({s.get('routing', 'dense')} routing), "
                f"emb {s['emb']}, hidden {s['hidden']}; digits (or MNIST via data_dir)")

    def held_out(self, config: str | None = None,
                 options: Mapping[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) of the held-out split: never used in training (calibration, accuracy deltas)."""
        split = load_split(options)
        return split.x_test, split.y_test

    def calibration_rows(self, config: str | None = None,
                         options: Mapping[str, Any] | None = None) -> np.ndarray:
        """Training rows for int8 calibration: the held-out rows stay unseen until scored."""
        return load_split(options).x_train

    def build(self, config: str | None, *, seed: int = 0,
              options: Mapping[str, Any] | None = None, train: bool = True):
        import torch

        s = self.settings(config, options)
        split = load_split(options)
        torch.manual_seed(seed)
        module = _moe_module(split.n_features, s["emb"], s["experts"], s["top"], s["hidden"],
                             s["routing"])
        if train:
            with single_thread():
                _train(module, split, epochs=s["epochs"], seed=seed)
        return module.eval()

    def param_count(self, config: str | None, options: Mapping[str, Any] | None = None) -> int:
        s = self.settings(config, options)
        n_in = load_split(options).n_features
        return count_params(_moe_module(n_in, s["emb"], s["experts"], s["top"], s["hidden"],
                                        s["routing"]))

    def input_names(self, config: str | None) -> list[str]:
        return ["pixels"]

    def output_names(self, config: str | None) -> list[str]:
        return ["logits"]

    def dynamic_axes(self, config: str | None) -> dict[str, dict[int, str]]:
        return {"pixels": {0: "batch"}, "logits": {0: "batch"}}

    def make_inputs(self, config: str | None, batch: int, seq: int | None = None,
                    seed: int = 0, *, options: Mapping[str, Any] | None = None
                    ) -> dict[str, np.ndarray]:
        """``batch`` held-out rows from a seeded offset, wrapping round the split."""
        x, _ = self.held_out(config, options)
        start = int(np.random.default_rng(seed).integers(len(x)))
        rows = (start + np.arange(batch)) % len(x)
        return {"pixels": np.ascontiguousarray(x[rows])}

    def evaluate(self, predict: Predict, config: str | None,
                 options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Accuracy of ``predict`` on the whole held-out split, in batches of 256."""
        x, y = self.held_out(config, options)
        preds = [np.asarray(predict({"pixels": x[i:i + 256]})[0]).argmax(-1)
                 for i in range(0, len(x), 256)]
        correct = int((np.concatenate(preds) == y).sum())
        return {"metric": "accuracy", "value": correct / len(y), "n": len(y),
                "split": "held-out", "data": load_split(options).source}


def _train(module, split: Split, *, epochs: int, seed: int) -> None:
    """Adam on shuffled mini-batches of the training rows only (seconds on digits)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(split.x_train)
    y = torch.from_numpy(split.y_train)
    # MNIST has 60k rows: fewer passes reach the same accuracy
    epochs = max(1, epochs * 2000 // max(len(x), 2000))
    opt = torch.optim.Adam(module.parameters(), lr=1e-2)
    loss_fn = torch.nn.CrossEntropyLoss()
    module.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 128):
            idx = order[i:i + 128]
            opt.zero_grad()
            loss_fn(module(x[idx]), y[idx]).backward()
            opt.step()
    module.eval()


MOE = register(MoESpec())
