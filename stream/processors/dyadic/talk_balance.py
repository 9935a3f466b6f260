"""Talk balance: each person's share of the speaking time over the last minutes.

Speaking time is the summed length of a person's speech units
(``voice_segment``, whoever the unit was attributed to) inside the window
``[t - window_s, t]``, a unit cut at the window's start counting only its
part inside. The share is over the people who spoke in the window (both
shares sum to 1; silence does not count). An output is due at most every
``period_s`` of data time, at a unit's end (:class:`~..ticks.Ticker`), so
nothing is said while nobody speaks. Overlapping units (both people at once,
on two microphones) count for both.

Work per unit is constant on average: running totals per person, with units
leaving the window subtracted as they leave.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from dyadscope.stream import kinds
from dyadscope.stream.processors.ticks import Ticker
from dyadscope.stream.types import Feature, Role

#: How far (s) after the window's start a cut unit may still sit in the arrival order (units of two microphones
#: interleave; a unit is at most 20 s long).
_DISORDER_S = 30.0


@dataclass(frozen=True)
class TalkBalanceConfig:
    """``window_s``: the window of "the last minutes"; ``period_s``: the least data time between outputs."""

    window_s: float = 300.0
    period_s: float = 5.0


class TalkBalance:
    """A :class:`~..base.FeatureProcessor`: ``voice_segment`` in, ``talk_balance`` (role None) out."""

    consumes = frozenset({kinds.VOICE_SEGMENT})

    def __init__(self, config: TalkBalanceConfig = TalkBalanceConfig()):
        self.config = config
        self._ticker = Ticker(config.period_s)
        self._units: deque[tuple[float, float, Role]] = deque()  # (start, end, role), in arrival order
        self._totals: dict[Role, float] = {}
        self._newest = float("-inf")

    def consume(self, feature: Feature) -> list[Feature]:
        """Add one speech unit; return the balance when one is due."""
        start, end, role = feature.data.get("start"), feature.data.get("end"), feature.role
        if role is None or start is None or end is None or end < start:
            return []
        self._units.append((float(start), float(end), role))
        self._totals[role] = self._totals.get(role, 0.0) + float(end) - float(start)
        self._newest = max(self._newest, float(end))
        from_t = self._newest - self.config.window_s
        while self._units and self._units[0][1] <= from_t:
            gone_start, gone_end, gone_role = self._units.popleft()
            self._totals[gone_role] -= gone_end - gone_start
        if not self._ticker.ready(self._newest):
            return []
        self._ticker.advance(self._newest)
        return [self._balance(from_t)]

    def _balance(self, from_t: float) -> Feature:
        speech = dict(self._totals)
        for start, _, role in self._units:  # units cut by the window's start: only the first few
            if start >= from_t + _DISORDER_S:
                break
            speech[role] -= max(0.0, from_t - start)
        speech = {r: round(s, 6) for r, s in sorted(speech.items()) if s > 1e-6}  # who spoke in the window
        total = sum(speech.values())
        share = {r: s / total for r, s in speech.items()} if total > 0 else {}
        data = {"share": share, "speech_s": speech, "window_s": self.config.window_s}
        return Feature(kinds.TALK_BALANCE, None, self._newest, data)
