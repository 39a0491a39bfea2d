"""Garbage-collection pause probe for benchmarks/bench_service.py; not part of the product.

Put this directory first on a process's ``PYTHONPATH`` and set ``BENCH_GC_PROBE_OUTPUT`` to a
file path: Python imports ``sitecustomize`` at start, and this registers a ``gc.callbacks``
entry that times every collection (from its "start" to its "stop" callback) and writes, every
second and at exit, a JSON file with the longest pause per generation, the number of
collections and of those over 50 ms, and every pause of 5 ms or more with its wall-clock end
time (``time.time()``), so that a benchmark can find the longest pause in any time window.
Without the variable nothing is installed.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import threading
import time

_OUTPUT = os.environ.get("BENCH_GC_PROBE_OUTPUT", "")
#: pauses at least this long are kept one by one (milliseconds)
_KEEP_MS = 5.0
_LONG_MS = 50.0
_MAX_KEPT = 5000


def _install(output: str) -> None:
    state = {
        "pid": os.getpid(),
        "started_at": time.time(),
        "collections": [0, 0, 0],
        "seconds": [0.0, 0.0, 0.0],
        "max_ms": [0.0, 0.0, 0.0],
        "over_50ms": 0,
        "pauses": [],  # [end wall time, generation, pause ms, collected]
    }
    began = [0.0]
    lock = threading.Lock()

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
            return
        pause = time.perf_counter() - began[0]
        generation = min(max(int(info.get("generation", 0)), 0), 2)
        ms = 1000 * pause
        state["collections"][generation] += 1
        state["seconds"][generation] += pause
        if ms > state["max_ms"][generation]:
            state["max_ms"][generation] = ms
        if ms > _LONG_MS:
            state["over_50ms"] += 1
        if ms >= _KEEP_MS and len(state["pauses"]) < _MAX_KEPT:
            state["pauses"].append([time.time(), generation, round(ms, 3), info.get("collected")])

    def dump() -> None:
        # the probe must never disturb the process it watches
        with lock, contextlib.suppress(Exception):
            snapshot = {
                **state,
                "collections": list(state["collections"]),
                "seconds": list(state["seconds"]),
                "max_ms": list(state["max_ms"]),
                "pauses": list(state["pauses"]),
                "written_at": time.time(),
            }
            temporary = f"{output}.{os.getpid()}.tmp"
            with open(temporary, "w") as out:
                json.dump(snapshot, out)
            os.replace(temporary, output)

    def every_second() -> None:
        while True:
            time.sleep(1.0)
            dump()

    gc.callbacks.append(callback)
    threading.Thread(target=every_second, name="bench-gc-probe", daemon=True).start()
    atexit.register(dump)


if _OUTPUT:
    _install(_OUTPUT)
