"""BERT and DeBERTa-v2 encoders from transformers configs (seeded random init, or local weights).

Named sizes: ``tiny`` (2 layers, hidden 32, tiny vocabulary; for tests), ``base`` and
``large`` with the real shapes (bert-base/large-uncased; deberta-v3-base/large, which are
``deberta-v2`` models). ``options['weights'] = DIR`` loads local weights with
``local_files_only=True`` instead; the named size is then ignored. Attention defaults to the
``eager`` implementation: its graph exports with every exporter and is what ORT's transformer
fusion recognises (``options['attn_implementation']`` overrides it).

The module ``build`` returns is a thin wrapper taking the inputs positionally and returning a
tuple in ``output_names`` order; the HF model is reachable as ``.model`` (e.g. to ask for
``output_hidden_states`` when comparing a truncated model).
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from onnxbench.core.errors import UserError
from onnxbench.model.weights import check_weights_folder
from onnxbench.model.zoo import register
from onnxbench.model.zoo.base import ModelSpec, meta_param_count

_DEBERTA_V3 = {"relative_attention": True, "position_buckets": 256, "norm_rel_ebd": "layer_norm",
               "share_att_key": True, "pos_att_type": ["p2c", "c2p"],
               "position_biased_input": False, "max_relative_positions": -1,
               "type_vocab_size": 0, "layer_norm_eps": 1e-7}

BERT_SIZES = {
    "tiny": {"vocab_size": 128, "hidden_size": 32, "num_hidden_layers": 2,
             "num_attention_heads": 2, "intermediate_size": 64},
    "base": {"vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12,
             "num_attention_heads": 12, "intermediate_size": 3072},
    "large": {"vocab_size": 30522, "hidden_size": 1024, "num_hidden_layers": 24,
              "num_attention_heads": 16, "intermediate_size": 4096},
}
DEBERTA_SIZES = {
    "tiny": dict(_DEBERTA_V3, vocab_size=128, hidden_size=32, num_hidden_layers=2,
                 num_attention_heads=2, intermediate_size=64, position_buckets=16),
    "base": dict(_DEBERTA_V3, vocab_size=128100, hidden_size=768, num_hidden_layers=12,
                 num_attention_heads=12, intermediate_size=3072),
    "large": dict(_DEBERTA_V3, vocab_size=128100, hidden_size=1024, num_hidden_layers=24,
                  num_attention_heads=16, intermediate_size=4096),
}


def _encoder(model, n_outputs: int):
    """Positional inputs → tuple of the first ``n_outputs`` of the HF output, in order."""
    from torch import nn

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                kwargs["token_type_ids"] = token_type_ids
            out = self.model(**kwargs, return_dict=True)
            names = ("last_hidden_state", "pooler_output")[:n_outputs]
            return tuple(getattr(out, n) for n in names)

    return Encoder()


class TextEncoderSpec(ModelSpec):
    has_seq = True
    default_seq = 128
    default_config = "base"
    fusion = "bert"  # ORT's transformer optimizer fuses these encoders with its bert type

    def __init__(self, name: str, arch: str, sizes: dict[str, dict[str, Any]],
                 inputs: list[str], outputs: list[str], description: str,
                 fusion_gaps: dict[str, str] | None = None) -> None:
        self.name, self.arch, self.configs = name, arch, sizes
        self.fusion_gaps = fusion_gaps or {}
        self._inputs, self._outputs, self.description = inputs, outputs, description
        module = {"Bert": "bert", "DebertaV2": "deberta_v2"}.get(arch, arch.lower())
        self.preload = ("transformers", f"transformers.models.{module}.modeling_{module}")

    def _classes(self):
        import transformers

        return (getattr(transformers, f"{self.arch}Config"),
                getattr(transformers, f"{self.arch}Model"))

    def weights_dir(self, options: Mapping[str, Any] | None) -> Path | None:
        """The local weights folder of ``options['weights']``; UserError if it holds nothing."""
        weights = (options or {}).get("weights")
        if not weights:
            return None
        folder = Path(weights).expanduser()
        if not (folder / "config.json").is_file():
            raise UserError(f"weights {str(folder)!r}: no config.json there; give a folder "
                            f"saved with {self.arch}Model.save_pretrained()")
        return folder

    def hf_config(self, config: str | None, options: Mapping[str, Any] | None):
        """The transformers config: the named size, or the one saved with the weights."""
        config_cls, _ = self._classes()
        opts = options or {}
        attn = opts.get("attn_implementation", "eager")
        folder = self.weights_dir(opts)
        if folder is not None:
            return config_cls.from_pretrained(folder, local_files_only=True,
                                              attn_implementation=attn)
        cfg = config_cls(**self.config(config))
        cfg._attn_implementation = attn
        return cfg

    def _make(self, config: str | None, options: Mapping[str, Any] | None):
        _, model_cls = self._classes()
        folder = self.weights_dir(options)
        hf_cfg = self.hf_config(config, options)
        if folder is not None:
            safe = check_weights_folder(folder)  # a pickle that may run code: refused here
            try:
                return model_cls.from_pretrained(folder, config=hf_cfg, local_files_only=True,
                                                 use_safetensors=safe or None)
            except (OSError, ValueError, pickle.UnpicklingError) as exc:
                raise UserError(f"weights {str(folder)!r}: cannot load "
                                f"({str(exc).splitlines()[0]})") from None
        return model_cls(hf_cfg)

    def build(self, config: str | None, *, seed: int = 0,
              options: Mapping[str, Any] | None = None, train: bool = True):
        import torch

        torch.manual_seed(seed)
        return _encoder(self._make(config, options), len(self._outputs)).eval()

    def param_count(self, config: str | None, options: Mapping[str, Any] | None = None) -> int:
        _, model_cls = self._classes()
        hf_cfg = self.hf_config(config, options)
        return meta_param_count(lambda: model_cls(hf_cfg))

    def describe(self, config: str | None) -> str:
        cfg = self.config(config)
        return (f"{cfg['num_hidden_layers']} layers, hidden {cfg['hidden_size']}, "
                f"{cfg['num_attention_heads']} heads, vocab {cfg['vocab_size']}")

    def input_names(self, config: str | None) -> list[str]:
        return list(self._inputs)

    def output_names(self, config: str | None) -> list[str]:
        return list(self._outputs)

    def dynamic_axes(self, config: str | None) -> dict[str, dict[int, str]]:
        axes = {n: {0: "batch", 1: "seq"} for n in self._inputs}
        axes["last_hidden_state"] = {0: "batch", 1: "seq"}
        if "pooler_output" in self._outputs:
            axes["pooler_output"] = {0: "batch"}
        return axes

    def _vocab_size(self, config: str | None, options: Mapping[str, Any] | None) -> int:
        folder = self.weights_dir(options)
        if folder is not None:
            return int(json.loads((folder / "config.json").read_text())["vocab_size"])
        return int(self.config(config)["vocab_size"])

    def make_inputs(self, config: str | None, batch: int, seq: int | None = None,
                    seed: int = 0, *, options: Mapping[str, Any] | None = None
                    ) -> dict[str, np.ndarray]:
        """Token ids in [1, vocab) (0 is padding), a mask of ones, token types of zeros."""
        seq = seq or self.default_seq
        rng = np.random.default_rng(seed)
        vocab = self._vocab_size(config, options)
        inputs = {"input_ids": rng.integers(1, vocab, size=(batch, seq), dtype=np.int64),
                  "attention_mask": np.ones((batch, seq), dtype=np.int64),
                  "token_type_ids": np.zeros((batch, seq), dtype=np.int64)}
        return {n: inputs[n] for n in self._inputs}


BERT = register(TextEncoderSpec(
    "bert", "Bert", BERT_SIZES, ["input_ids", "attention_mask", "token_type_ids"],
    ["last_hidden_state", "pooler_output"],
    "BERT encoder (transformers BertModel; tiny/base/large shapes, random init or --weights)"))
DEBERTA_V2 = register(TextEncoderSpec(
    "deberta-v2", "DebertaV2", DEBERTA_SIZES, ["input_ids", "attention_mask"],
    ["last_hidden_state"],
    "DeBERTa-v2/v3 encoder (transformers DebertaV2Model; tiny/base/large, random init or "
    "--weights)",
    fusion_gaps={
        "Attention": "DeBERTa's disentangled attention adds content-to-position and "
                     "position-to-content scores (relative position buckets); the BERT "
                     "attention pattern does not match it",
        "EmbedLayerNormalization": "DeBERTa's embeddings (optional absolute positions, mask "
                                   "multiplied after LayerNorm) differ from BERT's "
                                   "word+position+segment pattern",
    }))
