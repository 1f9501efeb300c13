"""Keras model sources: zoo entries and user files, as ModelSpecs whose ``build`` is Keras.

- ``keras-resnet50``: ``keras.applications.ResNet50(weights=None)``, seeded, NHWC input
  ``pixel_values``; configs ``default`` (224 px, 1000 classes) and ``tiny`` (32 px, 10).
- ``keras-encoder``: a BERT-like encoder built from Keras layers (token + position
  embedding, N x [MultiHeadAttention + LayerNorm + FFN]); configs ``tiny`` and ``base``.
- a SavedModel directory (its ``serving_default`` signature) and a ``.keras`` file.

Specs carry ``framework = "tf"`` so the artifact builder and the runtimes know ``build``
returns a Keras model (or a loaded SavedModel), not a torch module. Nothing here imports
TensorFlow at module import: the zoo stays cheap to list, and absent TF costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from onnxbench.core.errors import UserError
from onnxbench.model.zoo import register
from onnxbench.model.zoo.base import TOP1_AGREEMENT, ModelSpec
from onnxbench.tf import import_keras, import_tf

SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
SIGNATURE = "serving_default"


class KerasSpec(ModelSpec):
    """A ModelSpec whose ``build`` returns a Keras model (seeded, inference only)."""

    framework = "tf"

    def _make(self, cfg: dict[str, Any], options: Mapping[str, Any] | None):
        raise NotImplementedError

    def build(self, config: str | None, *, seed: int = 0,
              options: Mapping[str, Any] | None = None, train: bool = True):
        """A fresh Keras model; ``keras.utils.set_random_seed`` makes weights reproducible."""
        keras = import_keras()
        cfg = self.config(config)
        keras.utils.set_random_seed(seed)
        return self._make(cfg, options)

    def load(self, config: str | None, *, state_path: Path | None = None,
             options: Mapping[str, Any] | None = None):
        """Build (seed 0), then load saved Keras weights (``.weights.h5``) if given."""
        model = self.build(config, seed=0, options=options, train=False)
        if state_path is not None:
            model.load_weights(str(state_path))
        return model

    def param_count(self, config: str | None, options: Mapping[str, Any] | None = None) -> int:
        return int(self.build(config, options=options).count_params())

    def input_signature(self, config: str | None, options: Mapping[str, Any] | None = None):
        """``tf.TensorSpec`` per input (named, batch/seq dims ``None``): tf2onnx and tf.function."""
        tf = import_tf()
        return [tf.TensorSpec(shape, dtype, name=name)
                for name, (shape, dtype) in self.input_shapes(config, options).items()]

    def input_shapes(self, config: str | None, options: Mapping[str, Any] | None = None
                     ) -> dict[str, tuple[tuple[int | None, ...], str]]:
        raise NotImplementedError

    def dynamic_axes(self, config: str | None) -> dict[str, dict[int, str]]:
        names = {0: "batch", 1: "seq"} if self.has_seq else {0: "batch"}
        return {n: dict(names) for n in self.input_names(config)}


class KerasResNet50Spec(KerasSpec):
    name = "keras-resnet50"
    metric = TOP1_AGREEMENT
    description = "Keras applications ResNet50 (weights=None, seeded), NHWC input"
    configs = {"default": {"image_size": 224, "classes": 1000},
               "tiny": {"image_size": 32, "classes": 10}}
    default_config = "default"

    def image_size(self, config: str | None, options: Mapping[str, Any] | None) -> int:
        size = (options or {}).get("image_size", self.config(config)["image_size"])
        if not str(size).isdigit() or int(size) < 32:
            raise UserError(f"model {self.name!r}: option image_size={size!r} must be an "
                            "integer >= 32 (e.g. 224)")
        return int(size)

    def _make(self, cfg: dict[str, Any], options: Mapping[str, Any] | None):
        keras = import_keras()
        size = int((options or {}).get("image_size", cfg["image_size"]))
        inp = keras.Input((size, size, 3), name="pixel_values")
        return keras.applications.ResNet50(weights=None, input_tensor=inp,
                                           classes=cfg["classes"])

    def input_shapes(self, config, options=None):
        size = self.image_size(config, options)
        return {"pixel_values": ((None, size, size, 3), "float32")}

    def input_names(self, config: str | None) -> list[str]:
        return ["pixel_values"]

    def output_names(self, config: str | None) -> list[str]:
        return ["predictions"]

    def make_inputs(self, config: str | None, batch: int, seq: int | None = None,
                    seed: int = 0, *, options: Mapping[str, Any] | None = None
                    ) -> dict[str, np.ndarray]:
        """Standard-normal float32 pixels, NHWC (Keras' channels-last layout)."""
        size = self.image_size(config, options)
        rng = np.random.default_rng(seed)
        return {"pixel_values": rng.standard_normal((batch, size, size, 3), dtype=np.float32)}


ENCODER_SIZES = {
    "tiny": {"vocab": 1000, "hidden": 32, "layers": 2, "heads": 2, "ffn": 64, "max_len": 512},
    "small": {"vocab": 30522, "hidden": 256, "layers": 4, "heads": 4, "ffn": 1024,
              "max_len": 512},
    "base": {"vocab": 30522, "hidden": 768, "layers": 12, "heads": 12, "ffn": 3072,
             "max_len": 512},
}


@lru_cache(maxsize=1)
def _encoder_layers() -> tuple[Any, Any, Any]:
    """The custom layers and activation, defined (and registered for ``.keras`` files) on
    first use."""
    keras: Any = import_keras()  # a module object: its classes are bases here, unknown to mypy
    ops = keras.ops

    @keras.saving.register_keras_serializable(package="onnxbench")
    class PositionEmbedding(keras.layers.Layer):
        """Learned absolute positions ``[0, seq)`` added in the encoder's embedding."""

        def __init__(self, max_len: int, hidden: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.max_len, self.hidden = max_len, hidden

        def build(self, input_shape) -> None:
            self.table = self.add_weight(shape=(self.max_len, self.hidden), name="table",
                                         initializer=keras.initializers.TruncatedNormal(0.02))

        def call(self, ids):
            return ops.expand_dims(self.table[: ops.shape(ids)[1]], 0)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "max_len": self.max_len, "hidden": self.hidden}

    @keras.saving.register_keras_serializable(package="onnxbench")
    class KeyMask(keras.layers.Layer):
        """``attention_mask`` [B, S] (1 = attend) → boolean [B, 1, S] for MultiHeadAttention."""

        def call(self, mask):
            return ops.expand_dims(ops.cast(mask, "bool"), 1)

    @keras.saving.register_keras_serializable(package="onnxbench")
    def gelu_erf(x):
        """BERT's exact GELU through ``erf``: Keras' own uses ``erfc``, which tf2onnx lacks."""
        return 0.5 * x * (1.0 + ops.erf(x / np.sqrt(2.0).astype("float32")))

    return PositionEmbedding, KeyMask, gelu_erf


class KerasEncoderSpec(KerasSpec):
    name = "keras-encoder"
    description = "BERT-like Keras encoder from layers (embedding + N x [MHA + LN + FFN]), seeded"
    configs = ENCODER_SIZES
    default_config = "base"
    has_seq = True
    default_seq = 128

    def _make(self, cfg: dict[str, Any], options: Mapping[str, Any] | None):
        keras = import_keras()
        layers = keras.layers
        position, key_mask, gelu = _encoder_layers()
        ids = keras.Input((None,), dtype="int64", name="input_ids")
        mask = keras.Input((None,), dtype="int64", name="attention_mask")
        x = layers.Embedding(cfg["vocab"], cfg["hidden"], name="tokens")(ids)
        x = layers.Add()([x, position(cfg["max_len"], cfg["hidden"], name="positions")(ids)])
        x = layers.LayerNormalization(epsilon=1e-12, name="embed_ln")(x)
        attn_mask = key_mask(name="key_mask")(mask)
        for i in range(cfg["layers"]):
            att = layers.MultiHeadAttention(cfg["heads"], cfg["hidden"] // cfg["heads"],
                                            name=f"mha_{i}")(x, x, attention_mask=attn_mask)
            x = layers.LayerNormalization(epsilon=1e-12, name=f"ln_att_{i}")(x + att)
            ffn = layers.Dense(cfg["ffn"], activation=gelu, name=f"ffn_in_{i}")(x)
            ffn = layers.Dense(cfg["hidden"], name=f"ffn_out_{i}")(ffn)
            x = layers.LayerNormalization(epsilon=1e-12, name=f"ln_ffn_{i}")(x + ffn)
        out = layers.Identity(name="last_hidden_state")(x)
        return keras.Model([ids, mask], out, name=f"keras_encoder_{cfg['layers']}x{cfg['hidden']}")

    def input_shapes(self, config, options=None):
        return {n: ((None, None), "int64") for n in self.input_names(config)}

    def input_names(self, config: str | None) -> list[str]:
        return ["input_ids", "attention_mask"]

    def output_names(self, config: str | None) -> list[str]:
        return ["last_hidden_state"]

    def make_inputs(self, config: str | None, batch: int, seq: int | None = None,
                    seed: int = 0, *, options: Mapping[str, Any] | None = None
                    ) -> dict[str, np.ndarray]:
        """Token ids inside the vocabulary; the mask hides the last quarter of row 0."""
        cfg = self.config(config)
        seq = seq or self.default_seq
        if seq > cfg["max_len"]:
            raise UserError(f"model {self.name!r} config {config!r}: seq={seq} exceeds "
                            f"max_len {cfg['max_len']}")
        rng = np.random.default_rng(seed)
        ids = rng.integers(0, cfg["vocab"], size=(batch, seq), dtype=np.int64)
        mask = np.ones((batch, seq), dtype=np.int64)
        if seq >= 4:
            mask[0, seq - seq // 4:] = 0
        return {"input_ids": ids, "attention_mask": mask}


def synthesize(shapes: Mapping[str, tuple[tuple[int | None, ...], str]], batch: int,
               seq: int | None, seed: int) -> dict[str, np.ndarray]:
    """Seeded inputs for declared (shape, dtype) pairs: dim 0 is the batch, other unknown
    dims the sequence length (16 when not given); integers in [0, 2) so ids and masks stay
    valid for any vocabulary."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for name, (shape, dtype) in shapes.items():
        dims = [batch if i == 0 else (d if d is not None else (seq or 16))
                for i, d in enumerate(shape)]
        kind = np.dtype(dtype)
        if kind == np.bool_:
            out[name] = np.ones(dims, dtype=bool)
        elif np.issubdtype(kind, np.integer):
            out[name] = rng.integers(0, 2, size=dims).astype(kind)
        else:
            out[name] = rng.standard_normal(dims).astype(kind)
    return out


class _FileSpec(KerasSpec):
    """A user's model file or directory: one config, shapes read from the model itself."""

    configs = {"default": {}}
    default_config = "default"

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = path
        self._loaded: Any = None

    @property
    def has_seq(self) -> bool:  # type: ignore[override]
        return any(len(s) > 1 and s[1] is None for s, _ in self.input_shapes(None).values())

    def build(self, config: str | None, *, seed: int = 0,
              options: Mapping[str, Any] | None = None, train: bool = True):
        """The loaded model (cached: loading a SavedModel takes seconds)."""
        if self._loaded is None:
            self._loaded = self._load_file()
        return self._loaded

    def load(self, config=None, *, state_path=None, options=None):
        return self.build(config)

    def make_inputs(self, config: str | None, batch: int, seq: int | None = None,
                    seed: int = 0, *, options: Mapping[str, Any] | None = None
                    ) -> dict[str, np.ndarray]:
        return synthesize(self.input_shapes(config, options), batch, seq, seed)

    def input_names(self, config: str | None) -> list[str]:
        return list(self.input_shapes(config))

    def _fail(self, what: str, exc: BaseException) -> UserError:
        line = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
        return UserError(f"{self.path}: {what} ({line[:200]})")

    def _load_file(self) -> Any:
        """The model object from ``self.path`` (each kind of file loads its own way)."""
        raise NotImplementedError


class KerasFileSpec(_FileSpec):
    """A ``.keras`` file saved by ``model.save``."""

    description = "a Keras model file (.keras)"

    def _load_file(self):
        keras = import_keras(UserError)
        _encoder_layers()  # onnxbench's own custom layers, for files saved from keras-encoder
        try:
            return keras.models.load_model(self.path, compile=False)
        except Exception as exc:  # noqa: BLE001 - any load failure is the user's file
            raise self._fail("not a loadable .keras model file; save one with model.save("
                             "'name.keras')", exc) from None

    def input_shapes(self, config, options=None):
        model = self.build(config)
        return {_tensor_name(t): (tuple(t.shape), str(t.dtype)) for t in model.inputs}

    def output_names(self, config: str | None) -> list[str]:
        return list(getattr(self.build(config), "output_names", None) or
                    [_tensor_name(t) for t in self.build(config).outputs])


class SavedModelSpec(_FileSpec):
    """A SavedModel directory, run through its ``serving_default`` signature."""

    description = "a TensorFlow SavedModel directory (serving_default signature)"

    def _load_file(self):
        tf = import_tf(UserError)
        try:
            loaded = tf.saved_model.load(self.path)
        except Exception as exc:  # noqa: BLE001
            raise self._fail("not a loadable TensorFlow SavedModel", exc) from None
        if SIGNATURE not in getattr(loaded, "signatures", {}):
            raise UserError(f"{self.path}: SavedModel has no {SIGNATURE!r} signature; "
                            "export it with model.export(path) or tf.saved_model.save("
                            "..., signatures=...)")
        return loaded

    def signature(self):
        return self.build(None).signatures[SIGNATURE]

    def input_shapes(self, config, options=None):
        specs = self.signature().structured_input_signature[1]
        return {name: (tuple(s.shape), s.dtype.name) for name, s in sorted(specs.items())}

    def output_names(self, config: str | None) -> list[str]:
        return sorted(self.signature().structured_outputs)


def _tensor_name(tensor: Any) -> str:
    return str(getattr(tensor, "name", "input")).split(":")[0]


@lru_cache(maxsize=8)
def source_spec(model: str) -> ModelSpec | None:
    """The spec for a SavedModel directory or a ``.keras`` file; None if ``model`` is neither.

    The source hook ``onnxbench.model.zoo.resolve`` calls for names it does not know. Checks the
    path without importing TensorFlow, so bad input fails fast, in one line. Cached, so one
    process loads a user's model once.
    """
    path = Path(model)
    if model.endswith(".keras"):
        if not path.is_file():
            raise UserError(f"{model}: no such .keras file")
        return KerasFileSpec(model)
    if path.is_dir():
        if not any((path / f).is_file() for f in SAVED_MODEL_FILES):
            raise UserError(f"{model}: directory is not a TensorFlow SavedModel (no "
                            "saved_model.pb); give a SavedModel directory, a .keras file, "
                            "an .onnx file or a zoo name")
        return SavedModelSpec(model)
    return None


KERAS_RESNET50 = register(KerasResNet50Spec())
KERAS_ENCODER = register(KerasEncoderSpec())
