"""ICE on the service's side of a capture connection: host candidates on the configured addresses, ports from a range.

aioice (the ICE agent under aiortc) gathers one host candidate on every
non-loopback address of the machine, each on an ephemeral UDP port, and never
on 127.0.0.1: a service on loopback then has no candidate at all (the page
stays "connecting…"), and one on a LAN address listens on every other
interface too. :func:`restrict` replaces a peer connection's gathering with
one socket per configured address, bound to the first free port of the
configured range, so a firewall needs to open that range on that address
only. No STUN or TURN server is asked: capture devices are on the service's
network, and nothing is sent beyond it.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from dataclasses import dataclass
from functools import partial

from aioice import Candidate
from aioice.candidate import candidate_foundation, candidate_priority
from aioice.ice import Connection, StunProtocol, get_host_addresses
from aioice.turn import UDP_SOCKET_BUFFER_SIZE
from aiortc import RTCPeerConnection

#: Hosts that mean "every interface" (the service listens on all of them).
ANY_HOSTS = {"0.0.0.0": ("127.0.0.1",), "::": ("127.0.0.1", "::1")}


class IceUnavailable(RuntimeError):
    """No UDP socket could be opened for a connection (the range is in use, or the address is not this machine's)."""


@dataclass(frozen=True)
class IceSettings:
    """Where the service's side of each capture connection listens.

    ``addresses`` are the host candidates (one socket each); ``first_port`` to
    ``last_port`` (inclusive) the UDP ports they may use; a connection that
    has not connected ``connect_timeout_s`` seconds after its answer is closed,
    releasing its ports.
    """

    addresses: tuple[str, ...]
    first_port: int
    last_port: int
    connect_timeout_s: float = 20.0

    def __post_init__(self) -> None:
        if not self.addresses:
            raise ValueError("ICE needs at least one address")
        if not 1 <= self.first_port <= self.last_port <= 65535:
            raise ValueError(f"bad UDP port range {self.first_port}-{self.last_port}")

    @classmethod
    def for_host(cls, host: str, ports: tuple[int, int], connect_timeout_s: float = 20.0) -> IceSettings:
        """Settings for a service listening on ``host`` (see :func:`host_addresses`)."""
        return cls(host_addresses(host), ports[0], ports[1], connect_timeout_s)

    @property
    def ports(self) -> str:
        """The port range as a firewall rule writes it, e.g. ``"50000-50099"``."""
        return f"{self.first_port}-{self.last_port}"


def host_addresses(host: str) -> tuple[str, ...]:
    """The addresses to gather candidates on for a service listening on ``host``.

    An IP address is itself (127.0.0.1 included); a name is what it resolves
    to (``localhost``: loopback); ``0.0.0.0`` (``::``) is every IPv4 (and
    IPv6) address of the machine, loopback included.
    """
    if host in ANY_HOSTS:
        return tuple(get_host_addresses(use_ipv4=True, use_ipv6=host == "::")) + ANY_HOSTS[host]
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise ValueError(f"cannot resolve the media host {host!r}: {exc.strerror}") from None
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


def restrict(pc: RTCPeerConnection, settings: IceSettings) -> None:
    """Make ``pc`` gather only the host candidates of ``settings``.

    Call once its transports exist (after ``setRemoteDescription`` for an
    answer, after adding the tracks and channel for an offer) and before
    ``setLocalDescription``, which gathers.
    """
    transports = {t.receiver.transport.transport for t in pc.getTransceivers()}
    if pc.sctp is not None:
        transports.add(pc.sctp.transport.transport)
    for transport in transports:
        connection = transport.iceGatherer._connection  # aiortc's aioice Connection, gathered on setLocalDescription
        connection.get_component_candidates = partial(_host_candidates, connection, settings)


async def _host_candidates(
    connection: Connection, settings: IceSettings, component: int, addresses: list[str], timeout: int = 5
) -> list[Candidate]:
    """aioice's ``get_component_candidates`` with our addresses and ports instead of its ``addresses``.

    An address that cannot be bound (say ``::1`` of ``localhost`` where IPv6
    is off) is left out; :class:`IceUnavailable` only when none can be.
    """
    candidates, refusals = [], []
    for address in settings.addresses:
        try:
            protocol = await _bind(lambda: StunProtocol(connection), address, settings)
        except IceUnavailable as exc:
            refusals.append(exc)
            continue
        connection._protocols.append(protocol)  # closed (and its port released) with the connection
        host, port = protocol.transport.get_extra_info("sockname")[:2]
        protocol.local_candidate = Candidate(
            foundation=candidate_foundation("host", "udp", host),
            component=component,
            transport="udp",
            priority=candidate_priority(component, "host"),
            host=host,
            port=port,
            type="host",
        )
        candidates.append(protocol.local_candidate)
    if not candidates:
        raise refusals[0]
    return candidates


async def _bind(factory, address: str, settings: IceSettings) -> StunProtocol:
    """A datagram endpoint on ``address`` at the first free port of the range."""
    loop = asyncio.get_running_loop()
    for port in range(settings.first_port, settings.last_port + 1):
        try:
            transport, protocol = await loop.create_datagram_endpoint(factory, local_addr=(address, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                continue
            raise IceUnavailable(f"cannot open a UDP port on {address}: {exc.strerror}") from None
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_SOCKET_BUFFER_SIZE)
        return protocol
    raise IceUnavailable(f"every UDP port of {settings.ports} on {address} is in use (widen media_udp_ports)")
