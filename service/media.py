"""Media files into a session: the sensors' file player wired to the live face and voice analysis.

The wiring lives here, above both rooms: :mod:`dyadscope.sensors.media`
decodes and stamps, :mod:`dyadscope.perception.live` analyses, and the
features enter the session through its feature sink like any other::

    files = await attach_media(lambda: hub.analysis(session.id, session.publish), sources, hub.clock)
    ...
    await files.stop()
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from dyadscope.sensors.media import MediaFiles, MediaSource, check_media_sources
from dyadscope.stream.frames import Clock, MediaSink


async def attach_media(
    analysis: Callable[[], Awaitable[MediaSink]],
    sources: Sequence[MediaSource],
    clock: Clock,
    loop: bool = False,
) -> MediaFiles:
    """Start playing ``sources`` into a session; ``await files.stop()`` ends them.

    ``analysis`` opens the files' media sink: the session's face and voice
    analysis (``WebRtcHub.analysis``, over the shared engine built off the
    event loop, with the session's speaker room, as a WebRTC device gets),
    and ``clock`` is the session clock the frames are stamped on at
    arrival. Raises
    :class:`~dyadscope.sensors.media.MediaOptionError` before starting
    anything if a person has two cameras or two microphones.
    """
    check_media_sources(sources)
    files = MediaFiles(list(sources), await analysis(), clock, loop)
    try:
        await files.start()
    except BaseException:
        await files.stop()
        raise
    return files
