#!/usr/bin/env python3
"""A notification receiver that answers every POST after a fixed delay (bench/sinks.sh).

usage: slow_sink.py PORT DELAY_MS

Listens on 127.0.0.1:PORT (0 picks a free one) and prints `LISTENING <port>` once ready.
Every connection is its own asyncio task and each request sleeps DELAY_MS without
holding anything else, so requests on any number of connections wait at once; a
keep-alive connection serves its requests one after the other, as HTTP/1.1 does.

- `POST <any path>` → after DELAY_MS, `200 {"ok":true}`; the body is read in full
  (Content-Length or chunked) and counted.
- `GET /stats` → at once, `{"posts": n, "in_flight": n, "max_in_flight": n}`.
"""
import asyncio
import json
import sys

POSTS = 0
IN_FLIGHT = 0
MAX_IN_FLIGHT = 0


async def read_body(reader, headers):
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                return body
            body += await reader.readexactly(size)
            await reader.readline()
    return await reader.readexactly(int(headers.get("content-length", "0")))


def response(code, reason, payload):
    data = json.dumps(payload).encode()
    return (
        f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode() + data


async def serve(reader, writer, delay):
    global POSTS, IN_FLIGHT, MAX_IN_FLIGHT
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            parts = line.decode("latin-1").split()
            if len(parts) < 2:
                return
            method, path = parts[0], parts[1]
            headers = {}
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                headers[k.strip().lower()] = v.strip()
            await read_body(reader, headers)
            if method == "GET" and path == "/stats":
                out = response(200, "OK", {"posts": POSTS, "in_flight": IN_FLIGHT, "max_in_flight": MAX_IN_FLIGHT})
            elif method == "POST":
                IN_FLIGHT += 1
                MAX_IN_FLIGHT = max(MAX_IN_FLIGHT, IN_FLIGHT)
                try:
                    await asyncio.sleep(delay)
                finally:
                    IN_FLIGHT -= 1
                POSTS += 1
                out = response(200, "OK", {"ok": True})
            else:
                out = response(405, "Method Not Allowed", {"error": "POST only"})
            writer.write(out)
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                return
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        return
    finally:
        writer.close()


async def main():
    port, delay = int(sys.argv[1]), int(sys.argv[2]) / 1000.0
    server = await asyncio.start_server(lambda r, w: serve(r, w, delay), "127.0.0.1", port, backlog=1024)
    print(f"LISTENING {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
