"""A shared vocabulary for comparing profiles of different frameworks.

ONNX Runtime names its nodes by ONNX/contrib op type (``MatMul``, ``SkipLayerNormalization``)
and PyTorch by ATen operator (``aten::addmm``, ``aten::native_layer_norm``). An A/B between
the two (ORT vs PyTorch) compares them by *category* (matmul, attention, norm, ...); an A/B
within one framework keeps the exact op types.
"""

from __future__ import annotations

import re

CATEGORIES: dict[str, tuple[str, ...]] = {
    "attention": ("Attention", "MultiHeadAttention", "GroupQueryAttention", "PackedAttention",
                  "aten::scaled_dot_product_attention", "aten::_scaled_dot_product_flash_attention",
                  "aten::_scaled_dot_product_efficient_attention",
                  "aten::_scaled_dot_product_cudnn_attention"),
    "matmul": ("MatMul", "Gemm", "FusedMatMul", "FusedGemm", "MatMulInteger", "QLinearMatMul",
               "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "MatMulNBits", "QGemm",
               "aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::matmul",
               "aten::linear", "aten::_addmm_activation", "aten::einsum"),
    "conv": ("Conv", "FusedConv", "QLinearConv", "ConvInteger", "NhwcConv", "ConvTranspose",
             "aten::conv2d", "aten::conv1d", "aten::convolution", "aten::_convolution",
             "aten::mkldnn_convolution", "aten::cudnn_convolution"),
    "norm": ("LayerNormalization", "SkipLayerNormalization", "SimplifiedLayerNormalization",
             "SkipSimplifiedLayerNormalization", "EmbedLayerNormalization", "BatchNormalization",
             "InstanceNormalization", "GroupNorm", "RMSNormalization", "aten::layer_norm",
             "aten::native_layer_norm", "aten::batch_norm", "aten::native_batch_norm",
             "aten::group_norm", "aten::rms_norm"),
    "softmax": ("Softmax", "LogSoftmax", "BiasSoftmax", "aten::softmax", "aten::_softmax",
                "aten::log_softmax"),
    "activation": ("Relu", "Gelu", "FastGelu", "BiasGelu", "QuickGelu", "Erf", "Tanh", "Sigmoid",
                   "Elu", "LeakyRelu", "HardSigmoid", "Softplus", "Clip", "aten::gelu",
                   "aten::relu", "aten::relu_", "aten::clamp_min", "aten::tanh", "aten::sigmoid",
                   "aten::silu", "aten::erf", "aten::hardtanh"),
    "quantize": ("DynamicQuantizeLinear", "QuantizeLinear", "DequantizeLinear",
                 "aten::quantize_per_tensor", "aten::dequantize"),
    "copy/layout": ("Transpose", "Reshape", "Concat", "Slice", "Split", "Expand", "Squeeze",
                    "Unsqueeze", "Flatten", "Cast", "Identity", "Tile", "Pad",
                    "MemcpyFromHost", "MemcpyToHost", "aten::copy_", "aten::contiguous",
                    "aten::cat", "aten::clone", "aten::to", "aten::_to_copy", "aten::permute",
                    "aten::transpose", "aten::view", "aten::reshape", "aten::expand",
                    "aten::slice", "aten::split", "aten::pad", "aten::constant_pad_nd"),
    "gather/index": ("Gather", "GatherElements", "GatherND", "ScatterND", "ScatterElements",
                     "aten::embedding", "aten::index_select", "aten::index", "aten::gather",
                     "aten::scatter", "aten::masked_fill", "aten::where"),
    "reduce": ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "TopK", "ArgMax", "ArgMin",
               "aten::mean", "aten::sum", "aten::amax", "aten::max", "aten::topk",
               "aten::argmax"),
    "elementwise": ("Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Exp", "Log", "Neg", "Abs",
                    "Where", "Equal", "Less", "Greater", "Not", "And", "Or", "Min", "Max",
                    "BiasAdd", "aten::add", "aten::add_", "aten::sub", "aten::mul", "aten::mul_",
                    "aten::div", "aten::pow", "aten::sqrt", "aten::rsqrt", "aten::exp",
                    "aten::neg", "aten::eq", "aten::lt", "aten::gt", "aten::minimum",
                    "aten::maximum"),
}
_LOOKUP = {op: cat for cat, ops in CATEGORIES.items() for op in ops}
_HINTS = (("attention", "attention"), ("matmul", "matmul"), ("gemm", "matmul"),
          ("conv", "conv"), ("norm", "norm"), ("softmax", "softmax"), ("gelu", "activation"),
          ("relu", "activation"), ("quant", "quantize"), ("memcpy", "copy/layout"),
          ("copy", "copy/layout"), ("gather", "gather/index"), ("reduce", "reduce"))


def category(op_type: str) -> str:
    """The category of an ORT op type or ATen operator; ``other`` when unknown."""
    if op_type in _LOOKUP:
        return _LOOKUP[op_type]
    bare = re.sub(r"^(aten|com\.microsoft|ai\.onnx)::", "", op_type).lower()
    return next((cat for hint, cat in _HINTS if hint in bare), "other")
