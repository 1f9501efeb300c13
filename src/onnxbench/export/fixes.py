"""Export-side fixes (``--fix NAME``): change how a module is traced, not the library.

``squeeze-dims``: a bare ``squeeze()`` drops every dim that is 1 *at run time*; exported as
``Squeeze`` without axes it also drops the batch axis at batch 1 (deepctr-torch's
``CrossNetMix.forward`` ends with ``x_l = x_l.squeeze()`` on a ``(bs, in_features, 1)``
tensor, and DCNMix then concatenates it with the rank-2 DNN output). The fix, applied only
for the duration of an export:

1. ``CrossNetMix.forward`` (when deepctr-torch is loaded) is replaced by the same code with
   ``squeeze(2)``, so every exporter (jit-script included) sees the explicit dim;
2. any other bare ``Tensor.squeeze()`` / ``torch.squeeze(x)`` is given the dims that are 1
   in the traced (example) shape and are static, so trace-based exporters (dynamo,
   torchscript, jit-trace) record ``Squeeze`` with explicit axes. With example inputs of
   batch >= 2 the batch axis is never among them. (``torch.jit.script`` compiles source
   and does not see this patch.)

Both are undone on exit, also when the export raises.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Callable, ContextManager, Iterator

from onnxbench.errors import UserError

_DEEPCTR_INTERACTION = "deepctr_torch.layers.interaction"


def _static_unit_dims(tensor) -> tuple[int, ...]:
    """Dims of size 1 that are static (symbolic dims of torch.export are left alone).

    Under ``torch.jit.trace`` sizes may come back as traced values; ``int()`` reads the
    example's size, which is what a trace records anyway.
    """
    import torch

    return tuple(i for i, size in enumerate(tensor.shape)
                 if not isinstance(size, torch.SymInt) and int(size) == 1)


@contextlib.contextmanager
def _explicit_bare_squeeze() -> Iterator[None]:
    """Give bare ``squeeze()`` calls explicit dims while tracing."""
    import torch

    method, function = torch.Tensor.squeeze, torch.squeeze

    def squeeze_method(self, *args, **kwargs):
        if args or kwargs:
            return method(self, *args, **kwargs)
        dims = _static_unit_dims(self)
        return method(self, dims) if dims else self.view_as(self)

    def squeeze_function(input, *args, **kwargs):  # noqa: A002  (torch's own parameter name)
        if args or kwargs:
            return function(input, *args, **kwargs)
        return squeeze_method(input)

    own = "squeeze" in vars(torch.Tensor)  # else inherited from the C base class
    torch.Tensor.squeeze, torch.squeeze = squeeze_method, squeeze_function
    try:
        yield
    finally:
        torch.squeeze = function
        if own:
            torch.Tensor.squeeze = method
        else:
            del torch.Tensor.squeeze


def _crossnetmix_forward(self, inputs):
    """deepctr-torch 0.3.0's ``CrossNetMix.forward`` with the final squeeze given its dim."""
    import torch

    x_0 = inputs.unsqueeze(2)  # (bs, in_features, 1)
    x_l = x_0
    for i in range(self.layer_num):
        output_of_experts = []
        gating_score_of_experts = []
        for expert_id in range(self.num_experts):
            gating_score_of_experts.append(self.gating[expert_id](x_l.squeeze(2)))
            v_x = torch.matmul(self.V_list[i][expert_id].t(), x_l)
            v_x = torch.tanh(v_x)
            v_x = torch.matmul(self.C_list[i][expert_id], v_x)
            v_x = torch.tanh(v_x)
            uv_x = torch.matmul(self.U_list[i][expert_id], v_x)
            dot_ = uv_x + self.bias[i]
            dot_ = x_0 * dot_
            output_of_experts.append(dot_.squeeze(2))
        output_of_experts = torch.stack(output_of_experts, 2)
        gating_score_of_experts = torch.stack(gating_score_of_experts, 1)
        moe_out = torch.matmul(output_of_experts, gating_score_of_experts.softmax(1))
        x_l = moe_out + x_l
    return x_l.squeeze(2)  # the library's bare squeeze() also drops batch 1


@contextlib.contextmanager
def _crossnetmix_patch() -> Iterator[None]:
    """Swap CrossNetMix.forward while inside; nothing to do if deepctr-torch is not loaded.

    The module is looked up in ``sys.modules`` rather than imported: a model holding a
    CrossNetMix has imported it already, and importing deepctr-torch has side effects
    (a PyPI version check).
    """
    interaction = sys.modules.get(_DEEPCTR_INTERACTION)
    cls = getattr(interaction, "CrossNetMix", None)
    if cls is None:
        yield
        return
    original = cls.forward
    cls.forward = _crossnetmix_forward
    try:
        yield
    finally:
        cls.forward = original


@contextlib.contextmanager
def squeeze_dims() -> Iterator[None]:
    """The ``squeeze-dims`` fix: explicit dims for bare squeezes while exporting."""
    with _crossnetmix_patch(), _explicit_bare_squeeze():
        yield


FIXES: dict[str, Callable[[], ContextManager[None]]] = {"squeeze-dims": squeeze_dims}


def apply_fix(name: str | None) -> ContextManager[None]:
    """The context manager of fix ``name`` (a no-op for None); UserError for unknown names."""
    if name is None:
        return contextlib.nullcontext()
    if name not in FIXES:
        raise UserError(f"--fix {name!r}: unknown fix; choose one of: {', '.join(FIXES)}")
    return FIXES[name]()
