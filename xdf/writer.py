"""XDF 1.0 encoding: the bytes LabRecorder writes and pyxdf reads.

Pure file-format code: every function returns the bytes of one whole chunk,
so a caller that writes each result with one ``write`` never leaves half a
chunk behind. A file is ``MAGIC`` followed by chunks::

    [NumLengthBytes: 1, 4 or 8][Length: little-endian][Tag: uint16][Content]

where ``Length`` counts the tag and the content. Tags: 1 FileHeader (XML),
2 StreamHeader (StreamId + ``<info>`` XML), 3 Samples, 4 ClockOffset,
5 Boundary, 6 StreamFooter (StreamId + XML). Every sample is written with its
own 8-byte timestamp (``TimestampBytes`` = 8), as LabRecorder does, so values
and timestamps read back bit for bit.

Clock offsets follow LabRecorder: ``collection_time`` is on the sender's
clock and ``offset`` is what must be added to the sender's timestamps to put
them on the recorder's clock; pyxdf fits a line through them on load.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache

import numpy as np

from dyadscope.stream.types import CHANNEL_FORMATS, StreamInfo
from dyadscope.xdf import schema

MAGIC = b"XDF:"

#: The fixed 16 bytes of a Boundary chunk; readers scan for them to resync
#: after a damaged chunk.
BOUNDARY_UUID = bytes([0x43, 0xA5, 0x46, 0xDC, 0xCB, 0xF5, 0x41, 0x0F, 0xB3, 0x0E, 0xD5, 0x46, 0x73, 0x83, 0xCB, 0xE4])

#: Little-endian numpy dtype per numeric LSL channel format.
NUMERIC_DTYPES: dict[str, np.dtype] = {
    "int8": np.dtype("i1"),
    "int16": np.dtype("<i2"),
    "int32": np.dtype("<i4"),
    "int64": np.dtype("<i8"),
    "float32": np.dtype("<f4"),
    "double64": np.dtype("<f8"),
}

_XML_DECLARATION = '<?xml version="1.0"?>'


class Tag(IntEnum):
    """Chunk tags of XDF 1.0."""

    FILE_HEADER = 1
    STREAM_HEADER = 2
    SAMPLES = 3
    CLOCK_OFFSET = 4
    BOUNDARY = 5
    STREAM_FOOTER = 6


def encode_varlen(value: int) -> bytes:
    """A variable-length unsigned integer: one byte giving the width (1, 4 or 8), then the value."""
    if value < 0:
        raise ValueError(f"variable-length integers are unsigned, got {value}")
    if value <= 0xFF:
        return struct.pack("<BB", 1, value)
    if value <= 0xFFFFFFFF:
        return struct.pack("<BI", 4, value)
    return struct.pack("<BQ", 8, value)


def encode_chunk(tag: Tag, content: bytes) -> bytes:
    """One chunk: length prefix, tag and content."""
    return encode_varlen(len(content) + 2) + struct.pack("<H", tag) + content


def _xml_text(root: ET.Element) -> bytes:
    return (_XML_DECLARATION + ET.tostring(root, encoding="unicode")).encode("utf-8")


def _add_fields(parent: ET.Element, fields: Mapping[str, object]) -> None:
    for name, value in fields.items():
        ET.SubElement(parent, name).text = "" if value is None else str(value)


def file_header_chunk(metadata: Mapping[str, object] | None = None) -> bytes:
    """The FileHeader chunk: XDF version 1.0 plus the recording's own metadata fields."""
    root = ET.Element("info")
    _add_fields(root, {"version": "1.0", **(metadata or {})})
    return encode_chunk(Tag.FILE_HEADER, _xml_text(root))


def stream_header_xml(
    info: StreamInfo,
    lsl_xml: str | None = None,
    metadata: Mapping[str, object] | None = None,
) -> str:
    """The ``<info>`` document of a stream header.

    ``lsl_xml`` is the sender's full stream description (pylsl's
    ``StreamInfo.as_xml()``); it is kept as it is. Without it the description
    is built from ``info``. Either way ``desc`` gains our ``<dyadscope>``
    element (:func:`~dyadscope.xdf.schema.desc_fields`: the role, modality and
    the session's ``metadata``), so the file carries who and what each stream
    measures.
    """
    if lsl_xml:
        root = ET.fromstring(lsl_xml)
    else:
        root = ET.Element("info")
        _add_fields(
            root,
            {
                "name": info.name,
                "type": info.modality,
                "channel_count": info.channel_count,
                "channel_format": info.channel_format,
                "source_id": info.source_id,
                "nominal_srate": repr(float(info.nominal_rate)),
                "hostname": info.hostname,
            },
        )
        desc = ET.SubElement(root, "desc")
        if info.channel_labels or info.units:
            channels = ET.SubElement(desc, "channels")
            for fields in schema.channel_fields(info):
                _add_fields(ET.SubElement(channels, "channel"), fields)
    desc = root.find("desc")
    if desc is None:
        desc = ET.SubElement(root, "desc")
    if info.role is not None and not schema.is_derived(info):
        _label_sensor_channels(desc, info)
        _declare_role(desc, info.role)
    for old in desc.findall(schema.DESC_ELEMENT):  # a sender's header copied from one of our files
        desc.remove(old)
    _add_fields(ET.SubElement(desc, schema.DESC_ELEMENT), schema.desc_fields(info, metadata))
    return ET.tostring(root, encoding="unicode")


def _declare_role(desc: ET.Element, role: str) -> None:
    """``<desc><role>`` as assigned (also by ``--assign``), where LSL ingest and other tools read a stream's person.

    A replayed recording then keeps its assignments without ``--assign``.
    """
    element = desc.find("role")
    if element is None:
        element = ET.SubElement(desc, "role")
    element.text = role


def _label_sensor_channels(desc: ET.Element, info: StreamInfo) -> None:
    """Give a person's sensor stream one ``<channel>`` per channel, each label naming the person, with unit and type.

    The sender's own labels, units and types are kept where it gave them
    (the role is put before the label: ``patient ECG``, ``therapist I``),
    so tools that key channels by label (MNE, mnelab) keep two people's
    apart.
    """
    channels = desc.find("channels")
    if channels is None:
        channels = ET.SubElement(desc, "channels")
    elements = channels.findall("channel")
    elements += [ET.SubElement(channels, "channel") for _ in range(info.channel_count - len(elements))]
    for channel, defaults in zip(elements, schema.channel_fields(info)):
        for name, default in defaults.items():
            field = channel.find(name)
            if field is None and default is None:  # no unit known: none rather than an empty one
                continue
            if field is None:
                field = ET.SubElement(channel, name)
            if not (field.text or "").strip():
                field.text = default or ""
        label = channel.find("label")
        label.text = schema.role_label(info.role, label.text.strip())


def stream_header_chunk(stream_id: int, info_xml: str) -> bytes:
    """The StreamHeader chunk of stream ``stream_id`` with its ``<info>`` document."""
    body = info_xml if info_xml.startswith("<?xml") else _XML_DECLARATION + info_xml
    return encode_chunk(Tag.STREAM_HEADER, struct.pack("<I", stream_id) + body.encode("utf-8"))


@lru_cache(maxsize=64)
def _numeric_sample_dtype(channel_format: str, channel_count: int) -> np.dtype:
    return np.dtype(
        [("stamp_bytes", "u1"), ("stamp", "<f8"), ("values", NUMERIC_DTYPES[channel_format], (channel_count,))]
    )


def samples_chunk(
    stream_id: int, channel_format: str, timestamps: np.ndarray, values: np.ndarray | Sequence[Sequence]
) -> bytes:
    """A Samples chunk: ``timestamps`` (n,) and ``values`` (n, channels), every sample stamped.

    Numeric formats are packed in one vectorised step; strings are written as
    UTF-8 with a variable-length byte count each.
    """
    if channel_format not in CHANNEL_FORMATS:
        raise ValueError(f"unknown channel format {channel_format!r}; expected one of {CHANNEL_FORMATS}")
    stamps = np.asarray(timestamps, dtype=np.float64)
    n = stamps.shape[0]
    head = struct.pack("<I", stream_id) + encode_varlen(n)
    if channel_format == "string":
        parts = [head]
        for stamp, sample in zip(stamps.tolist(), values):
            parts.append(struct.pack("<Bd", 8, stamp))
            for value in sample:
                raw = str(value).encode("utf-8")
                parts.append(encode_varlen(len(raw)))
                parts.append(raw)
        return encode_chunk(Tag.SAMPLES, b"".join(parts))
    array = np.asarray(values)
    if array.ndim != 2 or array.shape[0] != n:
        raise ValueError(f"values must be (n, channels) with n={n}, got shape {array.shape}")
    packed = np.empty(n, dtype=_numeric_sample_dtype(channel_format, array.shape[1]))
    packed["stamp_bytes"] = 8
    packed["stamp"] = stamps
    packed["values"] = array
    return encode_chunk(Tag.SAMPLES, head + packed.tobytes())


def clock_offset_chunk(stream_id: int, collection_time: float, offset: float) -> bytes:
    """A ClockOffset chunk: at ``collection_time`` (sender's clock) the sender was ``offset`` behind."""
    return encode_chunk(Tag.CLOCK_OFFSET, struct.pack("<Idd", stream_id, collection_time, offset))


def boundary_chunk() -> bytes:
    """A Boundary chunk: a landmark a reader can resynchronise on after damage."""
    return encode_chunk(Tag.BOUNDARY, BOUNDARY_UUID)


def stream_footer_chunk(
    stream_id: int,
    first_timestamp: float,
    last_timestamp: float,
    sample_count: int,
    clock_offsets: Iterable[tuple[float, float]] = (),
) -> bytes:
    """The StreamFooter chunk: first/last timestamp, sample count and every clock offset."""
    root = ET.Element("info")
    _add_fields(
        root,
        {
            "first_timestamp": repr(float(first_timestamp)),
            "last_timestamp": repr(float(last_timestamp)),
            "sample_count": int(sample_count),
        },
    )
    offsets = ET.SubElement(root, "clock_offsets")
    for time, value in clock_offsets:
        _add_fields(ET.SubElement(offsets, "offset"), {"time": repr(float(time)), "value": repr(float(value))})
    return encode_chunk(Tag.STREAM_FOOTER, struct.pack("<I", stream_id) + _xml_text(root))


@dataclass
class FooterTally:
    """What a stream's footer says, gathered as its chunks go by."""

    first: float = 0.0
    last: float = 0.0
    count: int = 0
    offsets: list[tuple[float, float]] = field(default_factory=list)

    def add_samples(self, stamps: np.ndarray) -> None:
        """Count a Samples chunk's timestamps."""
        if len(stamps) == 0:
            return
        if self.count == 0:
            self.first = float(stamps[0])
        self.last = float(stamps[-1])
        self.count += len(stamps)

    def footer_chunk(self, stream_id: int) -> bytes:
        """The StreamFooter chunk for what was counted."""
        return stream_footer_chunk(stream_id, self.first, self.last, self.count, self.offsets)
