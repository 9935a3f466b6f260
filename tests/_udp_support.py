"""The UDP sockets a process holds, read from /proc (no psutil): its descriptors' inodes in its namespace's tables."""

from __future__ import annotations

import ipaddress
import os


def udp_sockets(pid: int | str = "self") -> set[tuple[str, int]]:
    """The (address, port) each UDP socket of process ``pid`` is bound to."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    bound = set()
    for table in ("udp", "udp6"):
        with open(f"/proc/{pid}/net/{table}") as lines:
            next(lines)
            for line in lines:
                columns = line.split()
                if columns[9] in inodes:
                    bound.add(_address(columns[1]))
    return bound


def _address(field: str) -> tuple[str, int]:
    """``0100007F:C350`` (IPv4) or 32 hex digits and a port (IPv6): the kernel's host-order 32-bit words."""
    hex_ip, hex_port = field.split(":")
    raw = bytes.fromhex(hex_ip)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(words)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ip), int(hex_port, 16)
