"""A small HTTP/1.1 load generator on raw asyncio streams (keep-alive, one connection a client).

A general-purpose client such as httpx spends around half a millisecond of CPU per request;
on a 2-core machine shared with the server under test that would be measured as server
latency. Writing the request bytes and reading ``Content-Length`` bodies directly keeps the
client's share small. Loopback only.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from common import median, percentile


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    #: when each request of ``latencies`` was due (``time.perf_counter()``), in the same order
    starts: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0
    body_bytes: int = 0

    def summary(self) -> dict[str, Any]:
        ms = [1000 * x for x in self.latencies]
        return {
            "requests": len(ms),
            "seconds": self.seconds,
            "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "throughput_per_s": len(ms) / self.seconds if self.seconds else 0.0,
            "median_ms": median(ms),
            "p90_ms": percentile(ms, 90),
            "p99_ms": percentile(ms, 99),
            "max_ms": max(ms) if ms else float("nan"),
            "mean_body_bytes": self.body_bytes / len(ms) if ms else 0,
        }


class Connection:
    def __init__(self, host: str, port: int, request: bytes) -> None:
        self.host, self.port, self.request = host, port, request
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def send(self) -> tuple[int, int]:
        """One request on the kept-alive connection; returns (status, body length)."""
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, close = 0, False
        for line in lines[1:]:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key == "content-length":
                length = int(value.strip())
            elif key == "connection" and value.strip().lower() == "close":
                close = True
        await self.reader.readexactly(length)
        if close:
            self.close()
        return status, length

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def build_request(host: str, port: int, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def run_load(
    host: str,
    port: int,
    path: str,
    headers: dict[str, str],
    *,
    clients: int = 50,
    duration: float = 5.0,
    rate_per_client: float | None = None,
    max_requests: int = 200_000,
    stop: asyncio.Event | None = None,
) -> LoadResult:
    """*clients* concurrent connections for *duration* seconds.

    Closed loop (``rate_per_client=None``): each client sends its next request as soon as the
    previous answer arrives, so the server always has *clients* requests in hand (saturation).
    Open loop: each client sends on a fixed schedule of *rate_per_client* requests a second,
    and latency is counted from the scheduled time, so a slow answer is not hidden by the
    client waiting for it. With *stop*, the load also ends as soon as that event is set.
    """
    request = build_request(host, port, path, headers)
    result = LoadResult()
    deadline = time.perf_counter() + duration
    budget = [max_requests]

    async def client(index: int) -> None:
        conn = Connection(host, port, request)
        try:
            await conn.open()
        except OSError:
            result.errors += 1
            return
        interval = 1 / rate_per_client if rate_per_client else 0.0
        # spread the open-loop clients' schedules over one interval
        scheduled = time.perf_counter() + interval * index / clients
        while budget[0] > 0:
            start = scheduled if interval else time.perf_counter()
            if start >= deadline or (stop is not None and stop.is_set()):
                break
            if interval:
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                scheduled += interval
            budget[0] -= 1
            try:
                status, length = await conn.send()
            except (OSError, asyncio.IncompleteReadError, ValueError):
                result.errors += 1
                conn.close()
                continue
            result.latencies.append(time.perf_counter() - start)
            result.starts.append(start)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            result.body_bytes += length
        conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    result.seconds = time.perf_counter() - started
    return result
