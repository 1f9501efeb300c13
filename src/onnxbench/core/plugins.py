"""Plugins: optional parts that register themselves, loaded lazily by name.

Nothing in the core imports a plugin. A plugin is a module with a ``register()`` function
that adds its runtimes (``onnxbench.runtimes.registry.register_runtime``), model sources
and specs (``onnxbench.model.zoo``), exporters and framework adapter
(``onnxbench.model.frameworks``). Registering must be cheap: no heavy framework import (those
happen when a runtime is prepared or a model is built). A plugin's runtime class declares
its capabilities like a built-in one, its report ``label`` and whether it is its framework's
plain ``reference`` call (the default speed-up baseline) included (``runtimes/base.py``).

Where plugins come from:
- ``BUILTIN_PLUGINS``: the ones shipped with onnxbench (TensorFlow, the ``[tf]`` extra), a
  table of module names;
- the ``onnxbench.core.plugins`` entry-point group: third-party packages declare
  ``[project.entry-points."onnxbench.core.plugins"] name = "package.module"``.

The registries call :func:`load_plugins` when they meet a name they do not know, or are
asked for every name; it runs each plugin's ``register()`` once per process.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

BUILTIN_PLUGINS: dict[str, str] = {"tf": "onnxbench.tf.plugin"}
GROUP = "onnxbench.core.plugins"
_LOADED: dict[str, str] = {}  # plugin name -> module, once registered
_LOADING = False


def plugin_modules() -> dict[str, str]:
    """Every plugin's name and module: the built-in ones, then the entry points."""
    found = dict(BUILTIN_PLUGINS)
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep.value.partition(":")[0])
    return found


def load_plugins() -> dict[str, str]:
    """Register every plugin not registered yet; returns the loaded ones (name -> module).

    A plugin that fails to import is a bug in it: the error propagates with its name.
    """
    global _LOADING
    if _LOADING:  # a plugin's register() asked a registry for a name: no recursion
        return dict(_LOADED)
    _LOADING = True
    try:
        for name, module_name in plugin_modules().items():
            if name in _LOADED:
                continue
            module = importlib.import_module(module_name)
            module.register()
            _LOADED[name] = module_name
    finally:
        _LOADING = False
    return dict(_LOADED)


__all__ = ["BUILTIN_PLUGINS", "GROUP", "load_plugins", "plugin_modules"]
