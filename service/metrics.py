"""``GET /metrics``: the service's state in Prometheus' text format, for the clinic's monitoring.

Read when scraped, from the objects that hold it (nothing is counted on the
hot path but the open websockets): the session manager, each session's
queue, streams and recording, and the model engine's batchers once the first
capture has built it.

====================================  =======  ================================================
family                                type     what
====================================  =======  ================================================
``dyadscope_sessions``                gauge    running sessions
``dyadscope_streams{modality}``       gauge    streams the sessions take, by LSL type
``dyadscope_events_total``            counter  events logged since start (``rate()``: events/s)
``dyadscope_websocket_clients``       gauge    open websocket connections
``dyadscope_ingest_queue_depth``      gauge    chunks waiting for the pipelines, all sessions
``dyadscope_ingest_queue_depth_max``  gauge    the same in the fullest session, of
                                               ``dyadscope_ingest_queue_capacity``
``dyadscope_recordings``              gauge    sessions recording
``dyadscope_recorder_pending_bytes``  gauge    recorder lag: bytes recorded, not yet on disk
``dyadscope_recordings_behind``       gauge    recordings whose disk is slower than the data
``dyadscope_models_loaded``           gauge    1 once the model engine is built, else 0
``dyadscope_model_*{model}``          mixed    per batcher: ``queue_depth``, ``batches_total``,
                                               ``items_total``, ``errors_total``,
                                               ``batch_size`` (mean), ``last_batch_size``,
                                               ``inference_seconds{stat="mean"|"p95"}`` over
                                               its last 512 batches
``process_*``                         mixed    memory, CPU, open files (prometheus_client)
====================================  =======  ================================================

No label holds a session or participant id. Who may read it: an admin
(login or API token; ``metrics.read`` in :mod:`dyadscope.service.access`)
or whoever holds the configuration's ``metrics_token`` as a Bearer token
(Prometheus' ``authorization`` setting), which opens nothing else; others
get 401 or 403. Scrapes show no session's data and are not audited; refusals
are. The registry is this app's own: no process-wide state.
"""

from __future__ import annotations

import hmac
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from dyadscope.models.engine import ModelEngine
from dyadscope.service.access import allowed
from dyadscope.service.auth import audit, authenticated, bearer
from dyadscope.service.sessions import SessionManager

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


@dataclass
class WebsocketTally:
    """Websocket connections open now (kept by :class:`OpenWebsockets`)."""

    open: int = 0


class OpenWebsockets:
    """ASGI middleware counting the websocket connections open through it into ``tally``."""

    def __init__(self, app: ASGIApp, tally: WebsocketTally):
        self.app, self._tally = app, tally

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        self._tally.open += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._tally.open -= 1


class ServiceCollector(Collector):
    """The families of the module docstring, read at each scrape."""

    def __init__(self, manager: SessionManager, websockets: WebsocketTally, engine: Callable[[], ModelEngine | None]):
        self._manager, self._websockets, self._engine = manager, websockets, engine

    def collect(self) -> Iterator[Metric]:
        sessions = self._manager.all()
        yield _gauge("dyadscope_sessions", "Running sessions.", len(sessions))
        streams = GaugeMetricFamily("dyadscope_streams", "Streams the sessions take, by LSL type.", labels=["modality"])
        for modality, n in sorted(Counter(i.modality for s in sessions for i in s.streams.values()).items()):
            streams.add_metric([modality], n)
        yield streams
        yield CounterMetricFamily(
            "dyadscope_events", "Events logged since the service started.", value=self._manager.events_logged
        )
        yield _gauge("dyadscope_websocket_clients", "Open websocket connections.", self._websockets.open)
        depths = [s.queue_depth for s in sessions]
        yield _gauge("dyadscope_ingest_queue_depth", "Chunks waiting for the pipelines, all sessions.", sum(depths))
        yield _gauge(
            "dyadscope_ingest_queue_depth_max", "Chunks waiting in the fullest session.", max(depths, default=0)
        )
        yield _gauge(
            "dyadscope_ingest_queue_capacity",
            "Chunks a session's queue holds.",
            self._manager.config.ingest_queue_length,
        )
        recordings = [r for s in sessions if (r := s.recording.describe())["recording"]]
        yield _gauge("dyadscope_recordings", "Sessions recording.", len(recordings))
        yield _gauge(
            "dyadscope_recorder_pending_bytes",
            "Bytes recorded but not yet on disk, all recordings.",
            sum(r["pending_bytes"] for r in recordings),
        )
        yield _gauge(
            "dyadscope_recordings_behind",
            "Recordings whose disk is slower than the data.",
            sum(bool(r["behind"]) for r in recordings),
        )
        yield from _model_families(self._engine())


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _model_families(engine: ModelEngine | None) -> Iterator[Metric]:
    """The model engine's batchers (families without samples until the engine is built)."""
    yield _gauge(
        "dyadscope_models_loaded", "1 once the model engine is built (first capture), else 0.", engine is not None
    )
    batchers = engine.metrics() if engine is not None else []
    families = {
        "queue_depth": GaugeMetricFamily("dyadscope_model_queue_depth", "Items waiting for a batch.", labels=["model"]),
        "batches": CounterMetricFamily("dyadscope_model_batches", "Batches run.", labels=["model"]),
        "items": CounterMetricFamily("dyadscope_model_items", "Items inferred.", labels=["model"]),
        "errors": CounterMetricFamily("dyadscope_model_errors", "Batches that failed.", labels=["model"]),
        "mean_batch_size": GaugeMetricFamily("dyadscope_model_batch_size", "Mean items per batch.", labels=["model"]),
        "last_batch_size": GaugeMetricFamily(
            "dyadscope_model_last_batch_size", "Items in the last batch.", labels=["model"]
        ),
    }
    inference = GaugeMetricFamily(
        "dyadscope_model_inference_seconds", "Inference time per batch, last 512 batches.", labels=["model", "stat"]
    )
    for batcher in batchers:
        for key, family in families.items():
            family.add_metric([batcher["name"]], batcher[key])
        inference.add_metric([batcher["name"], "mean"], batcher["inference_ms_mean"] / 1000.0)
        inference.add_metric([batcher["name"], "p95"], batcher["inference_ms_p95"] / 1000.0)
    yield from families.values()
    yield inference


def metrics_reader(request: Request) -> None:
    """A dependency: the metrics token, or a principal who may ``metrics.read`` (401 without a login, else 403)."""
    token = request.app.state.config.metrics_token
    given = bearer(request.headers.get("authorization"))
    if token and given and hmac.compare_digest(given.encode(), token.encode()):
        return
    principal = authenticated(request)
    if not allowed(principal, "metrics.read"):
        audit(request, "metrics.read", status="refused")
        raise HTTPException(status_code=403, detail=f"a {principal.role} may not read the metrics")


def install_metrics(app: FastAPI, manager: SessionManager, engine: Callable[[], ModelEngine | None]) -> None:
    """Add ``GET /metrics`` and the websocket count to ``app`` (before its outer middleware)."""
    websockets = WebsocketTally()
    registry = CollectorRegistry()
    registry.register(ServiceCollector(manager, websockets, engine))
    ProcessCollector(registry=registry)
    app.add_middleware(OpenWebsockets, tally=websockets)

    async def metrics(request: Request) -> Response:
        encode, content_type = choose_encoder(request.headers.get("accept", ""))  # OpenMetrics if asked for
        return Response(encode(registry), headers={"content-type": content_type})

    app.add_api_route(
        "/metrics", metrics, methods=["GET"], include_in_schema=False, dependencies=[Depends(metrics_reader)]
    )
