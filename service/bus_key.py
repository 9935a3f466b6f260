"""The secret that signs the events on a Redis bus (see :mod:`dyadscope.stream.redis_bus`)."""

from __future__ import annotations

import os
import secrets

from dyadscope.service.config import Config
from dyadscope.stream.private_files import FILE_MODE, private_dir

FILENAME = "bus.key"
#: Shortest key accepted from the configuration, characters.
MIN_KEY_LENGTH = 16


def bus_key(config: Config) -> bytes:
    """``config.bus_key``, or the key in ``<data_dir>/bus.key`` (made once, 0600, by whichever node comes first)."""
    if config.bus_key:
        if len(config.bus_key) < MIN_KEY_LENGTH:
            raise ValueError(f"the bus key needs {MIN_KEY_LENGTH} characters or more")
        return config.bus_key.encode()
    path = config.data_dir / FILENAME
    if not path.exists():
        private_dir(path.parent)
        tmp = path.with_name(f".{FILENAME}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # atomic, and never replaces a key another node made meanwhile
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_bytes().strip()
    if len(key) < MIN_KEY_LENGTH:
        raise ValueError(f"{path} holds no usable bus key; delete it to make a new one")
    return key
