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

``jit-properties``: ``torch.jit.trace`` and ``torch.jit.script`` read every attribute of
every submodule while they build its TorchScript type (``module_has_exports`` calls
``hasattr`` on each name of ``dir(module)``), and ``hasattr`` only tolerates an
``AttributeError``. deepctr-torch's ``BaseModel.embedding_size`` is a property that raises
``ValueError`` whenever the sparse features' embedding dims differ (DCNMix's light, heavy and
tiny configs), so both jit exporters fail before tracing a single op. The fix re-raises
such a property's error as ``AttributeError`` for the duration of the export (and lists the
property in ``__jit_unused_properties__`` so scripting does not compile it). What the user
would change instead: give every sparse feature the same ``embedding_dim``, or override the
property in the model class to raise ``AttributeError``.

Several fixes combine with commas (``squeeze-dims,jit-properties``). All are undone on exit,
also when the export raises.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from onnxbench.core.errors import UserError

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

    def squeeze_function(input, *args, **kwargs):
        if args or kwargs:
            return function(input, *args, **kwargs)
        return squeeze_method(input)

    own = "squeeze" in vars(torch.Tensor)  # else inherited from the C base class
    # patching torch's own method on purpose (restored below)
    torch.Tensor.squeeze, torch.squeeze = squeeze_method, squeeze_function  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.squeeze = function
        if own:
            torch.Tensor.squeeze = method  # type: ignore[method-assign]
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
        experts = torch.stack(output_of_experts, 2)
        gates = torch.stack(gating_score_of_experts, 1)
        moe_out = torch.matmul(experts, gates.softmax(1))
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


def raising_properties(module) -> list[tuple[type, str, BaseException]]:
    """(defining class, name, error) of every property of ``module``'s submodules whose
    getter raises something other than ``AttributeError`` on that instance."""
    found: dict[tuple[type, str], BaseException] = {}
    for sub in module.modules() if module is not None else ():
        for name, prop in inspect.getmembers(type(sub), lambda m: isinstance(m, property)):
            owner = next(c for c in type(sub).__mro__ if name in vars(c))
            if (owner, name) in found or owner.__module__.startswith("torch."):
                continue
            try:
                prop.fget(sub)
            except AttributeError:
                continue
            except Exception as exc:  # noqa: BLE001  (exactly what torch.jit trips over)
                found[(owner, name)] = exc
    return [(owner, name, exc) for (owner, name), exc in found.items()]


def _as_attribute_error(prop: property) -> property:
    getter = prop.fget
    assert getter is not None  # raising_properties found it by calling its getter

    def fget(self):
        try:
            return getter(self)
        except AttributeError:
            raise
        except Exception as exc:
            raise AttributeError(f"{type(exc).__name__}: {exc}") from exc
    return property(fget, prop.fset, prop.fdel, prop.__doc__)


@contextlib.contextmanager
def jit_properties(module=None) -> Iterator[None]:
    """The ``jit-properties`` fix: properties that raise become AttributeErrors while inside."""
    patched = []
    for owner, name, _ in raising_properties(module):
        unused = vars(owner).get("__jit_unused_properties__")
        patched.append((owner, name, vars(owner)[name], unused))
        setattr(owner, name, _as_attribute_error(vars(owner)[name]))
        # torch.jit reads this class attribute; no stub declares it
        owner.__jit_unused_properties__ = [*(unused or []), name]  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for owner, name, prop, unused in reversed(patched):
            setattr(owner, name, prop)
            if unused is None:
                del owner.__jit_unused_properties__
            else:
                owner.__jit_unused_properties__ = unused


def explain_failure(module, error: str | None) -> str | None:
    """What to change when an export failed on a raising property (else None)."""
    bad = raising_properties(module)
    hit = [(o, n, e) for o, n, e in bad if error and str(e).strip() and str(e) in error]
    if not hit:
        return None
    owner, name, exc = hit[0]
    return (f"{owner.__module__}.{owner.__qualname__}.{name} is a property that raises "
            f"{type(exc).__name__} on this model; torch.jit reads every attribute of every "
            "submodule (hasattr/getattr) while building its type, and only an AttributeError "
            "is tolerated there. Export with --fix jit-properties, or make the property raise "
            "AttributeError (or return a value) for this model"
            + (" (deepctr: give every SparseFeat the same embedding_dim)"
               if owner.__module__.startswith("deepctr_torch") else ""))


FIXES: dict[str, Callable[..., AbstractContextManager[None]]] = {
    "squeeze-dims": lambda module=None: squeeze_dims(),
    "jit-properties": jit_properties,
}
ALL_FIXES = ",".join(FIXES)  # what the exporter matrix's ``+fix`` rows apply


def fix_names(name: str | None) -> list[str]:
    """The fix names in ``name`` (comma-separated); UserError naming an unknown one."""
    names = [n.strip() for n in (name or "").split(",") if n.strip()]
    for n in names:
        if n not in FIXES:
            raise UserError(f"--fix {n!r}: unknown fix; choose one of: {', '.join(FIXES)} "
                            "(several: comma-separated)")
    return names


def apply_fix(name: str | None, module=None) -> AbstractContextManager[None]:
    """The context manager of fix ``name`` (comma-separated names combine; a no-op for
    None); UserError for unknown names. ``module`` is the model about to be exported."""
    names = fix_names(name)
    if not names:
        return contextlib.nullcontext()
    stack = contextlib.ExitStack()

    @contextlib.contextmanager
    def combined() -> Iterator[None]:
        with stack:
            for n in names:
                stack.enter_context(FIXES[n](module))
            yield
    return combined()
