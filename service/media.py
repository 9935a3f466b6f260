"""Media files into a session: the sensors' file player wired to the live face and voice analysis.

The wiring lives here, above both rooms: :mod:`dyadscope.sensors.media`
decodes and stamps, :mod:`dyadscope.perception.live` analyses, and the
features enter the session through its feature sink like any other::

    files = await attach_media(session.publish, sources, hub.engine, hub.clock)
    ...
    await files.stop()
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from dyadscope.models.engine import ModelEngine
from dyadscope.perception.live import LivePerception
from dyadscope.sensors.media import MediaFiles, MediaSource, check_media_sources
from dyadscope.stream.frames import Clock, FeatureSink


async def attach_media(
    publish: FeatureSink,
    sources: Sequence[MediaSource],
    engine: Callable[[], Awaitable[ModelEngine]],
    clock: Clock,
    loop: bool = False,
) -> MediaFiles:
    """Start playing ``sources`` into a session; ``await files.stop()`` ends them.

    ``publish`` is the session's feature sink (``Session.publish``),
    ``engine`` gives the shared model engine (``WebRtcHub.engine``, built off
    the event loop) and ``clock`` is the session clock the frames are stamped
    on at arrival. The files get a perception of their own over that engine
    (one face detector, parsed once, for all their cameras). Raises
    :class:`~dyadscope.sensors.media.MediaOptionError` before starting
    anything if a person has two cameras or two microphones.
    """
    check_media_sources(sources)
    perception = await asyncio.to_thread(LivePerception, await engine())
    files = MediaFiles(list(sources), perception.analysis(publish), clock, loop)
    try:
        await files.start()
    except BaseException:
        await files.stop()
        raise
    return files
