"""Pairs of models with a known difference in work, for the GPU A/B benchmark (``ab_gpu.py``):
``file.py:factory`` models (``onnxbench ab benchmarks/gpu/ab_models.py:bert20 ...``).

* ``bert20`` / ``bert21``: BERT-base's layer (hidden 768, 12 heads, intermediate 3072) stacked
  20 or 21 times, one 128-token row (``ab`` tiles it to the batch): 5 % more layers;
* ``dcnv2_cross20`` / ``dcnv2_cross21``: DCNv2 ``heavy`` (the zoo's features, embeddings
  and DNN) with 20 or 21 cross layers instead of 4: on a GPU a launch-bound chain whose
  kernel count grows by ~5 % with the extra layer.

The true ratio of each pair on a given machine is measured, not assumed (``ab_gpu.py``
reports the pooled ratio of all its runs). ``AB_MODELS_TINY=1`` shrinks both (a CPU dry run
of the benchmark's plumbing)."""

from __future__ import annotations

import os
from typing import Any

TINY = os.environ.get("AB_MODELS_TINY") == "1"
SEQ = 16 if TINY else 128


def _bert(layers: int) -> tuple[Any, dict[str, Any]]:
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    size = (dict(vocab_size=128, hidden_size=32, num_attention_heads=2, intermediate_size=64)
            if TINY else dict(vocab_size=30522, hidden_size=768, num_attention_heads=12,
                              intermediate_size=3072))
    cfg = BertConfig(num_hidden_layers=layers, **size)

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = BertModel(cfg, add_pooling_layer=False).eval()

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.randint(0, cfg.vocab_size, (1, SEQ), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(1, SEQ, dtype=torch.int64)
    return Encoder().eval(), {"input_ids": ids, "attention_mask": mask}


def _dcnv2(cross: int) -> tuple[Any, dict[str, Any]]:
    from onnxbench.model.zoo import dcnv2

    cfg = {**dcnv2.CONFIGS["tiny" if TINY else "heavy"], "cross": cross}
    module = dcnv2._wrapper(dcnv2._dcnmix(cfg, seed=0)).eval()
    feats, _ = dcnv2.dummy_rows(cfg, 2, seed=0)  # 2 rows: deepctr squeezes batch 1 away
    return module, feats


def bert20() -> tuple[Any, dict[str, Any]]:
    return _bert(20)


def bert21() -> tuple[Any, dict[str, Any]]:
    return _bert(21)


def dcnv2_cross20() -> tuple[Any, dict[str, Any]]:
    return _dcnv2(20)


def dcnv2_cross21() -> tuple[Any, dict[str, Any]]:
    return _dcnv2(21)
