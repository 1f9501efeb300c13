"""One meaning per option name, in every command: the registry of shared option names.

``NAMES`` says, once, what each option name that several commands take means: its short
form, its metavar (the kind of value, shown in ``--help``) and its meaning. Commands declare
such an option with ``option(name, default, help)``, so ``--batch`` is a list of batch sizes
wherever it appears, ``-o`` is ``--option`` and never ``--out``, and so on
(``tests/test_cli_surface.py`` walks every command and fails on a clash). Old spellings a
script may use stay as hidden aliases (``alias``), with the new name's meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import typer

from onnxbench.core.errors import UserError


@dataclass(frozen=True)
class Name:
    """What an option name means in every command that takes it."""

    short: str | None
    metavar: str   # the kind of value ("" for a flag)
    meaning: str   # the default help line


NAMES: dict[str, Name] = {
    "--runtime": Name("-r", "RUNTIMES", "runtimes, comma-separated (repeatable)"),
    "--batch": Name("-b", "SIZES", "batch sizes, comma-separated, e.g. 1,8,64"),
    "--seq": Name(None, "LENGTHS", "sequence lengths, comma-separated, e.g. 128,512"),
    "--option": Name("-o", "KEY=VALUE", "case option as in a suite, e.g. threads=2 "
                                        "(repeatable; KEY=VALUE,KEY=VALUE also works)"),
    "--precision": Name(None, "PRECISION", "fp32 | fp16 | int8-dynamic | int8-static"),
    "--config": Name("-c", "CONFIG", "zoo model config"),
    "--exporter": Name("-e", "EXPORTER", "exporter for a zoo model (default: the framework's "
                                         "first, dynamo / tf2onnx)"),
    "--out": Name(None, "DIR", "where run directories go"),
    "--threads": Name(None, "N", "intra-op (ORT) / torch threads per session"),
    "--runs": Name(None, "N", "runs of the model measured"),
    "--warmup": Name(None, "N", "untimed warm-up runs"),
    "--max-time": Name(None, "SECONDS", "time spent measuring at most"),
    "--target-ci": Name(None, "PCT", "stop once the 95 % CI is within ±PCT % (5 or 5%)"),
    "--timeout": Name(None, "SECONDS", "time-out of one case"),
    "--threshold": Name(None, "PCT", "practical margin, e.g. 5% (or a fraction, 0.05)"),
    "--shape": Name(None, "NAME=DIMS", "NAME=D0,D1,... (repeatable)"),
    "--range": Name(None, "NAME=LOW:HIGH", "NAME=LOW:HIGH, both ends inclusive (repeatable)"),
    "--value": Name(None, "NAME=NUMBER", "NAME=NUMBER: fill input NAME with one value "
                                         "(repeatable)"),
    "--inputs": Name(None, "PATH", "real inputs: .npz, a .npy folder or input_N.pb folder"),
    "--seq-mix": Name(None, "LEN:WEIGHT,...", "mixed sequence lengths in one session"),
    "--reference": Name(None, "FILE", "what the outputs are compared against"),
    "--rtol": Name(None, "TOL", "relative tolerance of the parity check"),
    "--atol": Name(None, "TOL", "absolute tolerance of the parity check"),
    "--p99": Name(None, "BOUND", "latency bound of the p99, e.g. 10ms (a bare number is ms)"),
    "--accuracy-data": Name(None, "NPZ", "labelled .npz (the model's inputs plus 'labels')"),
    "--metric": Name(None, "METRIC", "accuracy | top5 | auc | mse | cosine"),
    "--resume": Name(None, "RUN_DIR", "continue a run directory: run what has no result"),
    "--layout": Name(None, "LAYOUTS", "serving layouts: shared | per-thread | lock | processes "
                                      "| streams (comma-separated: each a case)"),
    "--quiet": Name(None, "", "log lines instead of a progress bar"),
    "--trust": Name(None, "", "a run directory you made: allow what it names (code, files "
                              "outside it)"),
    "--json": Name(None, "", "print one JSON document"),
}


def option(name: str, default: Any, help: str | None = None, **kwargs: Any) -> Any:
    """A typer option under a registered name: its short form and metavar from ``NAMES``."""
    spec = NAMES[name]
    decls = [name, *([spec.short] if spec.short else [])]
    if spec.metavar:
        kwargs["metavar"] = spec.metavar
    return typer.Option(default, *decls, help=help or spec.meaning, **kwargs)


def declared(name: str, help: str | None = None) -> Any:
    """The same, for ``Annotated[type, declared(name)]`` (the default on the parameter)."""
    spec = NAMES[name]
    return typer.Option(name, *([spec.short] if spec.short else []),
                        metavar=spec.metavar or None, help=help or spec.meaning)


def alias(old: str, new: str, default: Any) -> Any:
    """A hidden old spelling of ``new`` (same kind of value), for scripts that use it."""
    spec = NAMES[new]
    return typer.Option(default, old, hidden=True, metavar=spec.metavar or None,
                        help=f"old spelling of {new}")


def parse_pct(flag: str, text: str | None) -> float | None:
    """``"2"`` or ``"2%"`` → 2.0 (percent); ``none``/``off``/``0`` → None (no target);
    UserError otherwise."""
    if text is None or text.strip().lower() in ("none", "off", "0", "0%"):
        return None
    raw = text.strip().removesuffix("%").strip()
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < 100:
        raise UserError(f"{flag} {text!r}: expected a percentage above 0 and below 100, "
                        "e.g. 2 or 2%")
    return value


# a comma starts a new KEY=VALUE only where a KEY= follows: values may hold commas
_NEXT_KEY = re.compile(r",\s*(?=[A-Za-z_][\w.-]*\s*=)")


def parse_options(flag: str, items: list[str]) -> dict[str, Any]:
    """``["threads=1,level=all", "providers=[a,b]"]`` → ``{"threads": 1, "level": "all",
    "providers": ["a", "b"]}``: each value read as YAML (``4``, ``true``, ``[a, b]``), bounded
    as a suite is (``onnxbench.suite.yamlsafe.option_value``)."""
    from onnxbench.suite.yamlsafe import option_value

    out: dict[str, Any] = {}
    for item in items:
        for part in (p.strip() for p in _NEXT_KEY.split(item)):
            if not part:
                continue
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise UserError(f"{flag} {item!r}: expected KEY=VALUE, e.g. threads=2")
            out[key.strip()] = option_value(value, f"{flag} {key.strip()}")
    return out


def one_value(flag: str, values: list[int], what: str) -> int:
    """The single value of a list flag where the command takes one; UserError otherwise."""
    if len(values) != 1:
        raise UserError(f"{flag} {','.join(map(str, values))}: {what} takes one value")
    return values[0]


__all__ = ["NAMES", "Name", "alias", "declared", "one_value", "option", "parse_options",
           "parse_pct"]
