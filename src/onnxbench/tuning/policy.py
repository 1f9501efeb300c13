"""The knobs of ``tune``'s search, in one place (``search`` and ``search_rate`` read them)."""

from __future__ import annotations

ETA = 3                  # successive halving keeps the best 1/ETA; each rung ETA x longer
FINALISTS = 3            # rungs stop when this many survive
MAX_RIVALS = 2           # rivals of the best compared by ab
AB_BLOCK_S = 0.5         # ab: timed seconds of a unit, before one was measured
SCREEN_SHARE = 0.5       # rate goals: the screen stops at 50 % of the budget,
RUNG_SHARE = 0.8         # the server windows at 80 % (the rest is the confirmation's)
PEAK_SHARE = 0.7         # throughput: the short peak searches stop at 70 %
PEAK_PROBES_GUESS = 8    # a peak search's probes, before one was measured
CONFIRM_S = 30.0         # the longest confirmation window (rate goals)
MAX_CONFIRMS = 3         # configurations confirmed before the search gives up

__all__ = ["AB_BLOCK_S", "CONFIRM_S", "ETA", "FINALISTS", "MAX_CONFIRMS", "MAX_RIVALS",
           "PEAK_PROBES_GUESS", "PEAK_SHARE", "RUNG_SHARE", "SCREEN_SHARE"]
