"""The Runtime interface: what every runtime declares and what the executor may call.

A runtime is a class registered by name (``onnxbench.runtimes.registry``). It declares its
**capabilities** as class variables, so the planner, the executor and the load scenarios
decide by them and never by the runtime's name:

- ``device``: ``"cpu"``, ``"cuda"`` (the executor synchronises and may read device
  timers) or ``"other"`` (an accelerator onnxbench does not manage; its calls return host
  arrays, so they are synchronous);
- ``framework``: ``"onnx"`` (runs the ONNX graph), ``"torch"``, ``"tf"`` (runs the source
  model of that framework) or ``"test"`` (needs no model);
- ``needs_module``: runs the source model rather than the ONNX graph;
- ``thread_safe``: concurrent ``run`` and bound calls on one prepared instance are safe
  (each thread binding its own inputs); the load scenarios share an instance only then;
- ``precisions``: the precisions the runtime applies to a source model itself (a
  ``needs_module`` runtime gets the case's precision as its ``precision`` option; others
  run the graph the artifact builder converted);
- ``Options``: a pydantic model of its options (types, defaults, help); the planner
  validates every case against it before anything runs;
- ``label``: what reports call it ("ORT CPU", "PyTorch CUDA"); None: the name as spelt. It
  belongs to the fixed names registered for the class (a pattern name such as
  ``ort:CUDAExecutionProvider`` is shown as spelt);
- ``reference``: it is its framework's plain call on its device (``torch-cpu``,
  ``torch-cuda``, ``tf-call``), the series a report's speed-ups are measured against when
  no baseline is named. Inherited like every capability: a subclass that is not the plain
  call (``torch.compile``) says ``reference = False``;
- ``shares_process``: a prepared instance may share its worker process with another one
  (``onnxbench ab`` prepares A and B in one process and alternates them). Two runtimes of
  different frameworks never share one (their thread pools would oversubscribe the
  cores), nor two sides whose ``process_options`` differ;
- ``process_options``: the options that set process-wide state (torch's thread count and
  TF32 flags, an allocator cap) rather than the session's: two sides that differ in one need
  a process each. The thread options every worker pins (``threads``,
  ``intra_op_threads``) count for every runtime.

The life cycle (the Polygraphy runner idea): ``prepare(bundle, options)`` once (create
the session / build the module; may raise ``Skip``), ``bind(inputs)`` returns a
zero-argument callable that runs one inference (the timed call), ``synchronize()`` waits
for the device, ``run(inputs)`` returns host arrays (parity, accuracy), ``info()`` says what
was in effect, ``close()`` releases everything.

Optional hooks, with defaults that say "not supported" (``None`` / ``{}``), so the executor
calls them without probing:

- ``cast_inputs(inputs)``: inputs converted to what the session declares (an fp16 graph
  without keep_io_types takes float16), before binding so no cast is timed;
- ``device_clock()``: a ``measure.device.DeviceClock`` (CUDA events) when calls return
  before the device has finished, else None (a call that waits for the device itself has
  nothing for device marks to measure); ``device_time_ms(call)`` times one call with it;
- ``device_memory()``: ``gpu_mem_*`` figures (MB) of this process, or ``{}``;
- ``what_ran()``: proof of what was measured (graph op counts, optimisation record, the
  module's depth);
- ``profile(inputs, runs)``: an untimed per-operator profile, or None (issue [5/8]);
- ``placement()``: nodes per execution provider, or None (issue [5/8]).

The timing loop (``onnxbench.measure``) knows nothing about any runtime beyond ``bind`` and
``synchronize``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from onnxbench.core.errors import Skip
from onnxbench.core.options import FAMILIES, OptionModel

if TYPE_CHECKING:
    from onnxbench.measure.device import DeviceClock
    from onnxbench.model.bundle import Bundle

Inputs = Mapping[str, np.ndarray]
Device = Literal["cpu", "cuda", "other"]
Framework = Literal["onnx", "torch", "tf", "test"]
FRAMEWORK_NAMES = {"onnx": "an ONNX graph", "torch": "a PyTorch model",
                   "tf": "a TensorFlow model", "test": "no model"}


class RuntimeOptions(OptionModel):
    """Base of a runtime's options model: subclasses declare typed fields with help."""

    family: ClassVar[str] = "runtime"


class Runtime(ABC):
    """One way of running a model. Subclasses declare the capabilities and ``Options``."""

    device: ClassVar[Device] = "cpu"
    framework: ClassVar[Framework] = "onnx"
    needs_module: ClassVar[bool] = False
    thread_safe: ClassVar[bool] = False
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)
    Options: ClassVar[type[RuntimeOptions]] = RuntimeOptions
    label: ClassVar[str | None] = None
    reference: ClassVar[bool] = False
    shares_process: ClassVar[bool] = True
    process_options: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, name: str) -> None:
        self.name = name
        self.bundle: Bundle | None = None  # set by prepare
        self.opts: Any = self.Options()
        self.ignored_options: list[str] = []

    # ---- the life cycle ---------------------------------------------------------------
    @abstractmethod
    def prepare(self, bundle: Bundle, options: Mapping[str, Any]) -> None:
        """Create the session/module for ``bundle``. Raise ``Skip`` if this machine cannot.

        Start with ``self.accept(bundle, options)``: it checks the bundle has what this
        runtime runs and parses the options into ``self.opts``.
        """

    @abstractmethod
    def run(self, inputs: Inputs) -> list[np.ndarray]:
        """One inference; returns the outputs as numpy arrays on the host (for parity)."""

    @abstractmethod
    def bind(self, inputs: Inputs) -> Callable[[], Any]:
        """A zero-argument callable that runs one inference on ``inputs`` (the timed call).

        Do all per-input work here (device copies, IO binding) so the callable is lean.
        """

    def synchronize(self) -> None:  # noqa: B027 - a no-op by default, on purpose
        """Wait for queued device work; a no-op on the CPU."""

    @abstractmethod
    def info(self) -> dict[str, Any]:
        """What the session really is: providers in use, threads, TF32, precision, versions."""

    def close(self) -> None:  # noqa: B027 - a no-op by default, on purpose
        """Release the session/module."""

    # ---- optional hooks ---------------------------------------------------------------
    def cast_inputs(self, inputs: Inputs) -> dict[str, np.ndarray]:
        """``inputs`` converted to the dtypes the session declares (default: unchanged)."""
        return dict(inputs)

    def device_clock(self) -> DeviceClock | None:
        """Marks on the device's queue around a call (``measure.device``), or None: a CPU, or
        a runtime whose call waits for the device itself. Call after ``prepare``."""
        return None

    def device_time_ms(self, call: Callable[[], Any]) -> float | None:
        """The device's own time of one ``call`` in ms, or None when it has no device clock."""
        clock = self.device_clock()
        if clock is None:
            return None
        clock.start()
        call()
        clock.stop()
        self.synchronize()
        return clock.elapsed_ms()

    def device_memory(self) -> dict[str, float]:
        """Device memory of this process (``gpu_mem_*`` keys, MB); ``{}`` on the CPU."""
        return {}

    def what_ran(self) -> dict[str, Any]:
        """Proof of what was measured (graph op counts, optimisation record, module depth)."""
        return {}

    def profile(self, inputs: Inputs, runs: int = 10) -> dict[str, Any] | None:
        """An untimed per-operator profile of ``runs`` calls, or None when unsupported."""
        return None

    def placement(self) -> dict[str, Any] | None:
        """Nodes per execution provider (and CPU fallbacks), or None when not applicable."""
        return None

    # ---- helpers for subclasses -------------------------------------------------------
    def accept(self, bundle: Bundle, options: Mapping[str, Any] | None) -> None:
        """Check ``bundle`` has what this runtime runs (else ``Skip``) and parse ``options``
        (the case's, all families mixed) into ``self.opts``. Names no family of this case
        uses (another runtime's options) are recorded in ``self.ignored_options``."""
        reason = self.unfit(bundle)
        if reason:
            raise Skip(reason)
        self.bundle = bundle
        self.opts = self.Options.parse(options, f"runtime {self.name}")
        used = self.Options.names().union(*(m.names() for m in FAMILIES.values()))
        self.ignored_options = sorted(set(options or {}) - used)

    def unfit(self, bundle: Bundle) -> str | None:
        """Why this runtime cannot run ``bundle`` (None if it can)."""
        if self.framework == "test":
            return None
        if self.needs_module:
            if bundle.framework == self.framework:
                return None
            wanted = FRAMEWORK_NAMES[self.framework]
            if bundle.framework == "onnx":
                return f"{self.name} runs {wanted}; this case has only an ONNX file"
            return (f"{self.name} runs {wanted}; {bundle.model!r} is "
                    f"{FRAMEWORK_NAMES.get(bundle.framework, bundle.framework)}")
        if bundle.onnx_path is None:
            return (f"no ONNX graph: {self.name} runs an exported .onnx file and this case "
                    "has none")
        return None

    def base_info(self) -> dict[str, Any]:
        """The fields every ``info()`` carries: name, capabilities, options in effect."""
        return {"runtime": self.name, "device": self.device, "framework": self.framework,
                "options": self.opts.model_dump(mode="json"),
                "ignored_options": list(self.ignored_options)}


__all__ = ["FRAMEWORK_NAMES", "Device", "Framework", "Inputs", "Runtime", "RuntimeOptions"]
