"""``finedge bench scale``: the hubs' and the web instances' scale-out in one run.

The hub half (bench/scale_hub.py: device uplinks stored through 1 and then 2 ``finedge hub``
processes, msg/s and p99 device-to-row latency) and then the web half (bench/scale_web.py:
Socket.IO clients held by one ``finedge web`` instance, the GET rate and p99 with and without
them). The options go to both (``quick``, ``time_limit_s`` each half's own, ``pg_admin_url``);
the rows of both are returned, the hub's first.
"""

from __future__ import annotations

import sys
from typing import Any

from bench import scale_hub, scale_web


def run(options: dict[str, Any]) -> list[dict[str, Any]]:
    return scale_hub.run(options) + scale_web.run(options)


if __name__ == "__main__":  # by hand: python -m bench.scale [--quick]
    import json

    for row in run({"quick": "--quick" in sys.argv}):
        print(json.dumps(row), flush=True)
