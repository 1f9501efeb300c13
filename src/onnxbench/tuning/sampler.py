"""What ``tune`` takes from optuna: the screening order when the budget cannot screen the
whole space, and the Pareto front of the evidence.

- ``ScreenSampler``: optuna's TPE sampler (seeded, multivariate) over the candidates'
  settings as categorical parameters, driven by ask/tell one candidate at a time: each
  suggestion is mapped to the unscreened candidate that matches it on the most settings
  (among those whose step still fits the budget), and told the candidate's screen figure
  (a failure or an accuracy violation is told as worse than anything seen, so the sampler
  learns to avoid it). When
  the budget covers the space every candidate is screened and the order does not matter.
- ``pareto_front``: the non-dominated candidates over (speed, accuracy drop, cores), from a
  multi-objective optuna study's ``best_trials``.

Why not optuna's pruners for the rungs: ``SuccessiveHalvingPruner`` and
``HyperbandPruner`` are asynchronous (a trial is compared with those that reached its rung
before it) and compare point values; ``tune``'s rungs are synchronous and keep a candidate
whose CI overlaps the cut line (a tie is not a loss), so the cut is ``search.cut``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from onnxbench.tuning.space import Candidate


def _optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


class ScreenSampler:
    """Suggests which candidates to screen next, learning from what was told."""

    def __init__(self, candidates: Sequence[Candidate], *, seed: int = 0,
                 startup: int = 6) -> None:
        optuna = _optuna()
        from optuna.distributions import CategoricalDistribution

        self.pending = list(candidates)
        values: dict[str, set[str]] = {}
        for c in self.pending:
            for k, v in c.params().items():
                values.setdefault(k, set()).add(v)
        self.dists = {k: CategoricalDistribution(sorted(v)) for k, v in values.items()
                      if len(v) > 1}
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup,
                                             multivariate=True)
        self.study = optuna.create_study(direction="minimize", sampler=sampler)
        self.trials: dict[str, Any] = {}
        self.worst: float | None = None

    def next(self, fits: Callable[[Candidate], bool] = lambda _c: True,
             first: Candidate | None = None) -> Candidate | None:
        """The unscreened candidate that best matches the sampler's next suggestion, among
        those that ``fits`` (None: none does); ``first`` instead when it fits (a baseline
        the caller wants measured before any other)."""
        able = [c for c in self.pending if fits(c)]
        if not able:
            return None
        if first is not None and first in able:  # optuna's way to try given settings
            self.study.enqueue_trial({k: v for k, v in first.params().items()
                                      if k in self.dists})
        trial = self.study.ask(self.dists)
        pick = first if first is not None and first in able else max(
            able, key=lambda c: sum(c.params().get(k) == v for k, v in trial.params.items()))
        self.pending.remove(pick)
        self.trials[pick.key] = trial
        return pick

    def tell(self, key: str, value: float | None) -> None:
        """The screen figure to minimise (log latency, or −log QPS); None: failed/violated."""
        trial = self.trials.pop(key, None)
        if trial is None:
            return
        if value is not None and math.isfinite(value):
            self.worst = value if self.worst is None else max(self.worst, value)
        told = value if value is not None else (self.worst or 0.0) + 1.0
        self.study.tell(trial, told)


def pareto_front(points: dict[str, tuple[float, float, float]]) -> list[str]:
    """Keys of the non-dominated points; each value is (figure to minimise, accuracy drop,
    cores). Computed by optuna (a multi-objective study's ``best_trials``)."""
    optuna = _optuna()
    study = optuna.create_study(directions=["minimize"] * 3)
    for key, values in points.items():
        study.add_trial(optuna.trial.create_trial(values=list(values), params={},
                                                  distributions={}, user_attrs={"key": key}))
    keys = {t.user_attrs["key"] for t in study.best_trials} if points else set()
    return [k for k in points if k in keys]


__all__ = ["ScreenSampler", "pareto_front"]
