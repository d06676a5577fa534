"""Slack's side of bench_commands.py: sends signed slash commands over keep-alive connections and times the acks.

Run by the benchmark as its own process, `python benchmarks/slack_sender.py PORT PATH`, so that
neither the fakes' work nor the building of requests in the benchmark's process delays
reading an ack (Slack's senders are not on the bot's machine at all). Each line on standard
input is a JSON list of requests, `[body, headers]`, sent at once, request n on connection n
(opened on first use and kept open); the answer is one JSON line: `[status, sent, acked]` per
request, the times on the monotonic clock, which every process on the machine shares. The
requests are raw HTTP/1.1 written in one go, so sending 200 of them takes a few milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def request(port: int, path: str, body: str, headers: dict[str, str]) -> bytes:
    data = body.encode()
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(data)}",
             *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def answer(reader: asyncio.StreamReader) -> tuple[int, float]:
    """The status of the next response on the connection and when its headers were in; its body is read too."""
    head = await reader.readuntil(b"\r\n\r\n")
    acked = time.monotonic()
    status_line, *fields = head.decode("latin-1").split("\r\n")
    length = next((int(f.split(":", 1)[1]) for f in fields if f.lower().startswith("content-length:")), 0)
    await reader.readexactly(length)
    return int(status_line.split()[1]), acked


async def main(port: int, path: str) -> None:
    connections: list[Connection] = []
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=2**24)  # a line holds a whole batch
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    while line := await stdin.readline():
        batch = [request(port, path, body, headers) for body, headers in json.loads(line)]
        missing = len(batch) - len(connections)
        connections += await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port) for _ in range(missing)))
        sent = []
        for data, (_, writer) in zip(batch, connections):
            writer.write(data)
            sent.append(time.monotonic())
        answers = await asyncio.gather(*(answer(reader) for reader, _ in connections[: len(batch)]))
        print(json.dumps([[status, at, acked] for at, (status, acked) in zip(sent, answers)]), flush=True)
    for _, writer in connections:
        writer.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
