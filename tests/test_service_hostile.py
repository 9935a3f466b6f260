"""An outsider on the network, against a real running service: each attack gets a
4xx or a clean close, the log gets a line per kind (not per attempt), and the
service keeps serving everyone else."""

from __future__ import annotations

import json
import logging
import socket

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


def _raw(port: int, data: bytes, source: str = "127.0.0.1", timeout: float = 20) -> socket.socket:
    """A raw TCP connection from ``source`` (any 127/8 address) that has sent ``data``."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    if data:
        sock.sendall(data)
    return sock


def _status(sock: socket.socket) -> int:
    """The status code of the response on ``sock`` (the connection is then closed)."""
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    sock.close()
    return int(head.split()[1]) if head else 0


def _healthy(service, source: str = "127.0.0.9") -> bool:
    """Whether another client, from another address, is served."""
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=20) as client:
        return client.get(f"{service.base}/api/health").status_code == 200


def _post(service, path: str, content: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{service.base}{path}",
        content=content,
        headers={**service.headers, "content-type": "application/json", **headers},
    )


def test_requests_for_other_host_names_are_refused(make_service):
    service = make_service(server_names=("rig.clinic.lan",))
    get = lambda host: httpx.get(f"{service.base}/api/health", headers={"host": host})  # noqa: E731
    assert get("attacker.example").status_code == 400  # a DNS-rebinding page's Host
    assert "server names" in get("attacker.example").json()["detail"]
    assert get(f"127.0.0.1:{service.port}").status_code == 200
    assert get(f"localhost:{service.port}").status_code == 200
    assert get(f"rig.clinic.lan:{service.port}").status_code == 200


def test_pages_of_other_sites_are_refused_unless_allowed(make_service):
    service = make_service(allowed_origins=("https://ehr.clinic.lan",))
    body = json.dumps({"id": "s1", "lsl": False}).encode()
    assert _post(service, "/api/sessions", body, origin="http://evil.example").status_code == 403
    assert _post(service, "/api/sessions", body, origin="null").status_code == 403
    assert _post(service, "/api/sessions", body, origin="https://ehr.clinic.lan").status_code == 201
    assert _post(service, "/api/sessions", body, origin=service.base).status_code == 409  # own page: passes


def test_tokenless_bodies_are_refused_before_they_are_read(running_service):
    headers = b"POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    sock = _raw(running_service.port, headers + b"Content-Length: 52428800\r\n\r\n")  # 50 MB promised, none sent
    assert _status(sock) == 401
    token = f"Authorization: Bearer {running_service.token}\r\n".encode()
    sock = _raw(running_service.port, headers + token + b"Content-Length: 52428800\r\n\r\n")
    assert _status(sock) == 413  # with the token, still larger than max_body_bytes
    streamed = _post(running_service, "/api/sessions", (b"x" for _ in range(100)))  # chunked, no length
    assert streamed.status_code in (400, 422)  # small enough: read, then malformed
    too_long = _post(running_service, "/api/sessions", (b" " * 8192 for _ in range(20)))
    assert too_long.status_code == 413
    assert _healthy(running_service)


def test_a_body_that_never_arrives_times_out(make_service):
    service = make_service(body_timeout_s=1.0)
    sock = _raw(
        service.port,
        b"POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + f"Authorization: Bearer {service.token}\r\n".encode()
        + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    )
    assert _status(sock) == 408


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_json_numbers_are_a_400(running_service, constant):
    running_service.call(running_service.service.manager.create("s1", lsl=False))
    r = _post(running_service, "/api/sessions/s1/baseline", b'{"duration_s": ' + constant + b"}")
    assert r.status_code == 400 and constant.decode().lstrip("-") in r.json()["detail"]


def test_malformed_ids_and_labels_are_4xx(running_service):
    base, headers = running_service.base, running_service.headers
    r = httpx.post(f"{base}/api/sessions", json={"id": "nl\n", "lsl": False}, headers=headers)
    assert r.status_code == 422
    assert httpx.post(f"{base}/api/sessions", json={"id": "s1", "lsl": False}, headers=headers).status_code == 201
    for subject in ("a" * 300, "a" * 5000, "x\n"):
        r = httpx.post(f"{base}/api/sessions/s1/recording", json={"subject": subject, "session": "1"}, headers=headers)
        assert r.status_code == 422, (len(subject), r.status_code)
    with running_service.ws("s1", after="²") as ws:  # a digit to str.isdigit(), not a number
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 4400
    assert _healthy(running_service)


def test_slow_headers_are_cut_off_and_floods_refused_while_others_are_served(make_service, caplog):
    # 5 s: the refusals at the caps below must come before the slow connections' deadline, even on a busy machine
    service = make_service(header_timeout_s=5.0, max_connections_per_client=8, max_connections=40)
    caplog.set_level(logging.WARNING)
    partial = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # never finishes its headers
    slow = [_raw(service.port, partial, source="127.0.0.2") for _ in range(8)]
    extra = [_raw(service.port, partial, source="127.0.0.2") for _ in range(20)]
    assert [_status(s) for s in extra] == [503] * 20  # beyond the per-client cap: refused at once
    assert _healthy(service, source="127.0.0.3")  # another client still gets through
    assert [_status(s) for s in slow] == [408] * 8  # cut off at the header deadline
    many = [_raw(service.port, partial, source=f"127.0.1.{i // 8}") for i in range(60)]
    statuses = [_status(s) for s in many]
    assert statuses.count(503) >= 20 and set(statuses) <= {408, 503}  # the cap in all
    assert _healthy(service)
    lines = [r for r in caplog.records if r.name == "dyadscope.service.http_limits"]
    assert 1 <= len(lines) <= 3, [r.getMessage() for r in lines]  # one per kind, not one per connection
    assert all("127.0." not in r.getMessage() for r in lines)  # no client addresses


def test_tokenless_websockets_leave_no_tracebacks(running_service, caplog):
    running_service.call(running_service.service.manager.create("s1", lsl=False))
    caplog.set_level(logging.INFO)
    for _ in range(20):
        with connect(running_service.ws_url("s1")):
            pass  # connects and leaves without a word
    for _ in range(5):
        with connect(running_service.ws_url("s1")) as ws:
            ws.send(json.dumps({"type": "auth", "token": "wrong"}))
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
    assert [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
    assert _healthy(running_service)


def test_security_headers_and_no_cdn_docs(running_service):
    page = httpx.get(f"{running_service.base}/")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["cache-control"] == "no-store"
    api = httpx.get(f"{running_service.base}/api/sessions", headers=running_service.headers)
    assert api.headers["cache-control"] == "no-store" and api.headers["referrer-policy"] == "no-referrer"
    assert "no-store" not in httpx.get(f"{running_service.base}/static/monitor.js").headers.get("cache-control", "")
    assert httpx.get(f"{running_service.base}/docs").status_code == 404
    assert httpx.get(f"{running_service.base}/api/openapi.json").status_code == 401
    schema = httpx.get(f"{running_service.base}/api/openapi.json", headers=running_service.headers)
    assert "/api/sessions" in schema.json()["paths"]
