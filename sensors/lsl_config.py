"""Point liblsl at DyadScope's configuration before it first reads one.

liblsl reads its configuration once, lazily, from the file named by the
``LSLAPICFG`` environment variable (then ``./lsl_api.cfg``, ``~/lsl_api`` ...).
The packaged ``lsl_api.cfg`` restricts discovery to this machine, which makes
loopback-only hosts (containers, CI) work. Every DyadScope module that uses
pylsl calls :func:`configure_lsl` before importing it.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The configuration shipped with DyadScope (loopback discovery).
PACKAGED_CONFIG = Path(__file__).with_name("lsl_api.cfg")


def configure_lsl() -> str:
    """Set ``LSLAPICFG`` to the packaged config unless the user set it; return the path in use.

    Has an effect only before liblsl first loads its configuration (the first
    resolve, outlet or inlet in the process).
    """
    return os.environ.setdefault("LSLAPICFG", str(PACKAGED_CONFIG))
