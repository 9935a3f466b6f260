"""What is on the LSL network: every visible stream, by its short header or its full one.

Re-exported by :mod:`dyadscope.sensors.lsl`.
"""

from __future__ import annotations

from dyadscope.sensors._lsl_worker import full_header
from dyadscope.sensors.lsl_config import configure_lsl
from dyadscope.stream.assign import assign, describe, header_from_xml
from dyadscope.stream.types import StreamInfo

configure_lsl()
import pylsl  # noqa: E402  (liblsl must see LSLAPICFG first)

HEADER_TIMEOUT = 1.0  # s; to fetch a stream's full header (with desc)


def list_streams(wait: float = 1.0) -> list[StreamInfo]:
    """Every LSL stream visible within ``wait`` seconds, with its role when its header gives one."""
    found: list[StreamInfo] = []
    for lsl_info in pylsl.resolve_streams(wait_time=wait):
        try:
            inlet, xml = full_header(lsl_info, HEADER_TIMEOUT)
        except (pylsl.util.TimeoutError, pylsl.util.LostError):
            found.append(describe(header_from_xml(lsl_info.as_xml())))
            continue
        inlet.close_stream()
        header = header_from_xml(xml)
        found.append(assign(header) or describe(header))
    return sorted(found, key=lambda info: (info.name, info.source_id))


def short_header(lsl_info: pylsl.StreamInfo) -> dict[str, str]:
    """What the resolver tells of a stream without an inlet: name, type, source_id, hostname."""
    return {
        "name": lsl_info.name(),
        "type": lsl_info.type(),
        "source_id": lsl_info.source_id(),
        "hostname": lsl_info.hostname(),
    }


def visible_streams(wait: float = 1.0) -> list[dict[str, str]]:
    """The short header (:func:`short_header`) of every stream visible within ``wait`` s; no inlet is opened."""
    found = [short_header(lsl_info) for lsl_info in pylsl.resolve_streams(wait_time=wait)]
    return sorted(found, key=lambda s: (s["name"], s["source_id"]))
