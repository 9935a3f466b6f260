"""The resting baseline before a session, and reactivity against it.

The research assistant starts a baseline phase (default 3 min) while both
people sit quietly; :class:`Baseline` -- a feature processor -- collects each
person's resting values from the features that flow past during it:

* resting RSA peak-to-trough: the mean of the breaths that began in the
  phase and were scored before it ended (the ``rsa`` features'
  ``breaths_scored``);
* resting spectral RSA: the mean of ``spectral_ln`` in the phase;
* resting heart rate: the mean ``bpm`` of the ``heart_rate`` features;
* resting EDA: the mean ``tonic_us`` of the ``eda`` features, and the mean
  ``per_min`` of the ``scr_rate`` features.

Features marked ``"poor"`` are left out. When a person's first feature at or
after the end of the phase arrives, the baseline completes for them and emits
``Feature("baseline", role, t, {"start_t", "end_t", "rsa_p2t_ms",
"rsa_spectral_ln", "heart_rate_bpm", "eda_tonic_us", "scr_per_min",
"breaths"})`` (a value is None when nothing good was seen). From then on
:meth:`Baseline.resting` gives the values and :meth:`Baseline.reactivity`
current minus resting; the RSA processor adds its reactivity fields from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from dyadscope.stream import kinds
from dyadscope.stream.types import ROLES, Feature, Role


@dataclass(frozen=True, slots=True)
class RestingValues:
    """One person's resting values (None where none were measured)."""

    start_t: float
    end_t: float
    rsa_p2t_ms: float | None
    rsa_spectral_ln: float | None
    heart_rate_bpm: float | None
    eda_tonic_us: float | None
    scr_per_min: float | None
    breaths: int


class _Mean:
    __slots__ = ("total", "n")

    def __init__(self) -> None:
        self.total = 0.0
        self.n = 0

    def add(self, value: float | None) -> None:
        if value is not None:
            self.total += value
            self.n += 1

    @property
    def value(self) -> float | None:
        return self.total / self.n if self.n else None


#: (feature kind, data field) -> the resting value it feeds.
_SOURCES = {
    (kinds.RSA, "spectral_ln"): "rsa_spectral_ln",
    (kinds.HEART_RATE, "bpm"): "heart_rate_bpm",
    (kinds.EDA, "tonic_us"): "eda_tonic_us",
    (kinds.SCR_RATE, "per_min"): "scr_per_min",
}


class _Collection:
    """One person's running means during the phase."""

    def __init__(self) -> None:
        self.means = {name: _Mean() for name in (*_SOURCES.values(), "rsa_p2t_ms")}
        self.breaths: set[float] = set()

    def add(self, feature: Feature, start: float) -> None:
        data = feature.data
        for (kind, field), name in _SOURCES.items():
            if kind == feature.kind:
                self.means[name].add(data.get(field))
        for onset, p2t in data.get("breaths_scored", ()) if feature.kind == kinds.RSA else ():
            if onset >= start and p2t is not None and onset not in self.breaths:
                self.breaths.add(onset)
                self.means["rsa_p2t_ms"].add(p2t)


@dataclass(frozen=True)
class BaselineConfig:
    """How long the resting phase lasts (s) unless its ``baseline_start`` says otherwise."""

    duration_s: float = 180.0


class Baseline:
    """The resting baseline phase, per person; call :meth:`start` to begin it."""

    consumes = frozenset({kinds.RSA, kinds.HEART_RATE, kinds.EDA, kinds.SCR_RATE, kinds.BASELINE_START})

    def __init__(self, config: BaselineConfig = BaselineConfig()):
        if config.duration_s <= 0:
            raise ValueError(f"duration_s must be positive, got {config.duration_s}")
        self.duration_s = config.duration_s
        self._start: float | None = None
        self._collecting: dict[Role, _Collection] = {}
        self._resting: dict[Role, RestingValues] = {}

    def start(self, t: float, roles: Iterable[Role] = ROLES) -> None:
        """Begin (or restart) the phase at session time ``t`` for ``roles``."""
        self._start = t
        for role in roles:
            self._collecting[role] = _Collection()
            self._resting.pop(role, None)

    @property
    def end_t(self) -> float | None:
        """When the phase ends (None before :meth:`start`)."""
        return None if self._start is None else self._start + self.duration_s

    def state(self, role: Role) -> str:
        """``"idle"``, ``"running"`` or ``"done"`` for one person."""
        if role in self._resting:
            return "done"
        return "running" if role in self._collecting else "idle"

    def resting(self, role: Role | None) -> RestingValues | None:
        """A person's resting values once their baseline has completed."""
        return self._resting.get(role) if role is not None else None

    def reactivity(self, role: Role | None, measure: str, value: float | None) -> float | None:
        """``value`` minus the person's resting ``measure`` (a :class:`RestingValues` field)."""
        resting = self.resting(role)
        rest = None if resting is None else getattr(resting, measure)
        return None if value is None or rest is None else value - rest

    def consume(self, feature: Feature) -> list[Feature]:
        """Collect a feature of the phase; emit the baseline once a person's phase is over.

        A ``baseline_start`` feature (``{"duration_s"?, "roles"?}``, as the
        service logs it when the research assistant starts the phase) calls
        :meth:`start`, so a recording replays the phase where it happened.
        """
        if feature.kind == kinds.BASELINE_START:
            self.duration_s = float(feature.data.get("duration_s") or self.duration_s)
            self.start(feature.t, feature.data.get("roles") or ROLES)
            return []
        collection = self._collecting.get(feature.role) if feature.role is not None else None
        if collection is None or self._start is None or feature.t < self._start:
            return []
        if feature.t < self._start + self.duration_s:
            if feature.data.get("quality", "good") == "good":
                collection.add(feature, self._start)
            return []
        del self._collecting[feature.role]
        values = RestingValues(
            start_t=self._start,
            end_t=self._start + self.duration_s,
            breaths=len(collection.breaths),
            **{name: mean.value for name, mean in collection.means.items()},
        )
        self._resting[feature.role] = values
        return [Feature(kinds.BASELINE, feature.role, feature.t, asdict(values))]
