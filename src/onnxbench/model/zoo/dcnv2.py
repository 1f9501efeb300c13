"""DCNv2: the real ``deepctr_torch.models.DCNMix``, behind a one-input-per-feature wrapper.

deepctr models take one float tensor that concatenates every feature column. The inference
script of the reference experiment fed one named array per feature instead (int64 ids,
float32 dense values), so the exported graph takes exactly that: ``DCNv2Wrapper`` casts and
concatenates inside the graph, and ids never travel as floats through the ONNX inputs.
Every input is shaped ``[batch, 1]``; the output ``prob`` is ``[batch, 1]``.

The bare ``squeeze()`` at the end of deepctr's ``CrossNetMix.forward`` is kept as it is: at
batch 1 it also drops the batch axis, which is the hazard the exporter matrix must reveal.
The wrapper exposes the inner DCNMix as ``.model`` so an export-side fix can patch it.

There is no public data for these configs (the reference trained on seeded dummy data), so
``evaluate`` reports AUC and log loss on a seeded held-out split of the same *dummy* data.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import sys
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from onnxbench.model.zoo import register
from onnxbench.model.zoo.base import MAX_ABS_DIFF, ModelSpec, Predict, single_thread

LOW_RANK, N_EXPERTS = 32, 4  # deepctr's DCNMix defaults, as the reference used them
# independent random streams: example inputs, training rows, held-out rows never coincide
INPUTS, TRAIN, HELD_OUT = 0, 1, 2
TRAIN_ROWS, HELD_OUT_ROWS = 512, 512


def _vocab_spread(n: int, lo: int, hi: int, power: float) -> list[int]:
    """n vocabulary sizes from lo to hi, most of them small (a long tail, like real ids)."""
    return [round(lo + (hi - lo) * (i / (n - 1)) ** power) for i in range(n)]


# sparse features: (name, vocabulary size, embedding dim); dense: names. Vocabularies and
# dims are chosen so the parameter counts match the reference experiment (within 5 %).
CONFIGS: dict[str, dict[str, Any]] = {
    "tiny": {"sparse": [("user_id", 50, 4), ("item_id", 30, 4), ("category", 5, 2)],
             "dense": ["price", "rating"], "dnn": (8,), "cross": 1, "low_rank": 4,
             "experts": 2, "_target": None},
    "light": {"sparse": [("user_id", 400, 8), ("item_id", 200, 8), ("category", 20, 4)],
              "dense": ["price", "rating"], "dnn": (32, 16), "cross": 2, "_target": 26_393},
    "heavy": {"sparse": [("user_id", 500_000, 64), ("item_id", 100_000, 64),
                         ("category", 1_000, 32), ("brand", 5_056, 32), ("city", 500, 16),
                         ("device", 100, 16), ("os", 20, 8), ("hour", 24, 8)],
              "dense": ["price", "rating", "age", "hist_ctr", "session_len", "discount"],
              "dnn": (512, 256, 128), "cross": 4, "_target": 39_771_765},
    "100x100": {"sparse": [(f"sparse_{i}", v, 16)
                           for i, v in enumerate(_vocab_spread(100, 50, 100_000, 4.5))],
                "dense": [f"dense_{i}" for i in range(100)],
                "dnn": (512, 256, 128), "cross": 4, "_target": 34_541_749},
}


@lru_cache(maxsize=1)
def deepctr():
    """Import deepctr_torch without its PyPI version check.

    deepctr_torch/__init__ starts a thread that asks PyPI for the latest version and prints
    a notice when it cannot reach it (always, here). We load its ``utils`` module first,
    replace ``check_version`` with a no-op, then import the package, which picks the
    patched function up from ``sys.modules``; no thread, no network, no notice.
    """
    if "deepctr_torch" not in sys.modules:
        spec = importlib.util.find_spec("deepctr_torch")
        if spec is None or not spec.submodule_search_locations:  # what the import would say
            raise ModuleNotFoundError("No module named 'deepctr_torch'", name="deepctr_torch")
        utils_path = spec.submodule_search_locations[0] + "/utils.py"
        uspec = importlib.util.spec_from_file_location("deepctr_torch.utils", utils_path)
        assert uspec is not None and uspec.loader is not None  # a .py file has a loader
        utils = importlib.util.module_from_spec(uspec)
        uspec.loader.exec_module(utils)
        vars(utils)["check_version"] = lambda version: None
        sys.modules["deepctr_torch.utils"] = utils
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            import deepctr_torch
    import deepctr_torch.inputs
    import deepctr_torch.models

    return deepctr_torch


def _dcnmix(cfg: dict[str, Any], seed: int, device: str = "cpu"):
    """deepctr's DCNMix for a config (linear and DNN parts see every feature, as usual)."""
    dc = deepctr()
    columns = ([dc.inputs.SparseFeat(n, vocabulary_size=v, embedding_dim=d)
                for n, v, d in cfg["sparse"]]
               + [dc.inputs.DenseFeat(n, 1) for n in cfg["dense"]])
    return dc.models.DCNMix(columns, columns, cross_num=cfg["cross"],
                            dnn_hidden_units=tuple(cfg["dnn"]),
                            low_rank=cfg.get("low_rank", LOW_RANK),
                            num_experts=cfg.get("experts", N_EXPERTS), seed=seed, device=device)


def _wrapper(model):
    """One input per feature → deepctr's concatenated float input, built inside the graph."""
    import torch
    from torch import nn

    class DCNv2Wrapper(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model  # the inner DCNMix (a hook for export-side fixes)

        def forward(self, *features: torch.Tensor) -> torch.Tensor:
            x = torch.cat([f.to(torch.float32) for f in features], dim=1)
            return self.model(x)

    return DCNv2Wrapper()


def dummy_rows(cfg: dict[str, Any], n: int, seed: int,
               stream: int = INPUTS) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Seeded dummy features (ids inside each vocabulary, dense in [0, 1)) and 0/1 labels.

    The label depends on the first two dense values and the parity of the first id, so a
    brief training has something to learn and AUC means more than a coin toss.
    """
    rng = np.random.default_rng([stream, seed])
    feats: dict[str, np.ndarray] = {}
    for name, vocab, _ in cfg["sparse"]:
        feats[name] = rng.integers(0, vocab, size=(n, 1), dtype=np.int64)
    for name in cfg["dense"]:
        feats[name] = rng.random((n, 1), dtype=np.float32)
    dense = [feats[d][:, 0] for d in cfg["dense"][:2]]
    first_id = feats[cfg["sparse"][0][0]][:, 0]
    logit = 4.0 * (dense[0] - dense[1]) + np.where(first_id % 2 == 0, 1.0, -1.0)
    labels = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
    return feats, labels


def _train(module, cfg: dict[str, Any], seed: int) -> None:
    """One epoch over a few hundred seeded dummy rows (seconds, even for 40M parameters)."""
    import torch

    feats, labels = dummy_rows(cfg, TRAIN_ROWS, seed, TRAIN)
    names = [n for n, _, _ in cfg["sparse"]] + list(cfg["dense"])
    tensors = [torch.from_numpy(feats[n]) for n in names]
    y = torch.from_numpy(labels).unsqueeze(1)
    opt = torch.optim.Adam(module.parameters(), lr=1e-2)
    module.train()
    for i in range(0, TRAIN_ROWS, 128):
        opt.zero_grad()
        prob = module(*[t[i:i + 128] for t in tensors])
        torch.nn.functional.binary_cross_entropy(prob, y[i:i + 128]).backward()
        opt.step()
    module.eval()


class DCNv2Spec(ModelSpec):
    name = "dcnv2"
    metric = MAX_ABS_DIFF
    description = "deepctr-torch DCNMix (DCN-v2 with mixture of low-rank cross experts); dummy data"
    configs = CONFIGS
    default_config = "light"
    preload = ("onnxbench.model.zoo.preloads",)  # deepctr_torch and scikit-learn, once
    # what the exporter matrix says when an exporter fails on this model (checked: scripting
    # the inner DCNMix alone, with jit-properties, fails on BaseModel.forward as below)
    export_notes: ClassVar[dict[str, str]] = {
        "jit-script": (
            "DCNMix is not TorchScript, whatever the fix: torch.jit.script compiles the Python "
            "source, onnxbench's one-input-per-feature wrapper takes forward(*features), and "
            "deepctr's BaseModel.forward reads fields of its feature-column namedtuples "
            "(feat.embedding_name), which TorchScript types as plain tuples. DCNMix has no "
            "data-dependent control flow, so a trace-based export is exact: use dynamo, "
            "torchscript or jit-trace with --fix squeeze-dims,jit-properties"),
    }

    def build(self, config: str | None, *, seed: int = 0,
              options: Mapping[str, Any] | None = None, train: bool = True):
        cfg = self.config(config)
        module = _wrapper(_dcnmix(cfg, seed))
        if train:
            with single_thread():
                _train(module, cfg, seed)
        return module.eval()

    def param_count(self, config: str | None, options: Mapping[str, Any] | None = None) -> int:
        from onnxbench.model.zoo.base import meta_param_count

        cfg = self.config(config)
        return meta_param_count(lambda: _dcnmix(cfg, 0, device="meta"))

    def describe(self, config: str | None) -> str:
        cfg = self.config(config)
        vocabs = [v for _, v, _ in cfg["sparse"]]
        dims = sorted({d for _, _, d in cfg["sparse"]})
        return (f"{len(vocabs)} sparse (dim {'/'.join(map(str, dims))}, vocab {min(vocabs)}-"
                f"{max(vocabs)}), {len(cfg['dense'])} dense, DNN {tuple(cfg['dnn'])}, "
                f"{cfg['cross']} cross layers")

    def input_names(self, config: str | None) -> list[str]:
        cfg = self.config(config)
        return [n for n, _, _ in cfg["sparse"]] + list(cfg["dense"])

    def output_names(self, config: str | None) -> list[str]:
        return ["prob"]

    def dynamic_axes(self, config: str | None) -> dict[str, dict[int, str]]:
        return {n: {0: "batch"} for n in self.input_names(config) + ["prob"]}

    def make_inputs(self, config: str | None, batch: int, seq: int | None = None,
                    seed: int = 0, *, options: Mapping[str, Any] | None = None
                    ) -> dict[str, np.ndarray]:
        feats, _ = dummy_rows(self.config(config), batch, seed)
        return {n: feats[n] for n in self.input_names(config)}

    def evaluate(self, predict: Predict, config: str | None,
                 options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """AUC and log loss on seeded held-out *dummy* rows (no real data exists here)."""
        from sklearn.metrics import log_loss, roc_auc_score

        feats, labels = dummy_rows(self.config(config), HELD_OUT_ROWS, 0, HELD_OUT)
        names = self.input_names(config)
        probs = np.concatenate([np.asarray(predict({n: feats[n][i:i + 256] for n in names})[0])
                                for i in range(0, HELD_OUT_ROWS, 256)]).reshape(-1)
        probs = np.clip(probs.astype(np.float64), 1e-7, 1 - 1e-7)
        return {"metric": "auc", "value": float(roc_auc_score(labels, probs)),
                "logloss": float(log_loss(labels, probs)), "n": HELD_OUT_ROWS,
                "split": "held-out", "data": "dummy (seeded synthetic rows)"}


DCNV2 = register(DCNv2Spec())
