"""RSS per idle WebSocket of a bare Starlette endpoint under uvicorn (a baseline).

The floor under the cloud's memory per connected edge (DESIGN 11: ≤ 50 KB):
the same uvicorn settings as ``ems cloud`` (``ems.cloud.serve.make_server``:
no compression, pings every 20 s), an endpoint
that accepts and waits, ``--sockets`` idle clients from another process.
Prints one JSON object: ``kb_per_socket``, the server's RSS growth per socket.

    .venv/bin/python bench/socket_memory.py [--sockets 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

import _tests_path  # noqa: F401  (tests/ on sys.path: the support package)
from support.processes import free_port


def rss_kb() -> int:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def serve(port: int, sockets: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket

    async def endpoint(ws: WebSocket) -> None:
        await ws.accept()
        while (await ws.receive())["type"] != "websocket.disconnect":
            pass

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        ws_per_message_deflate=False,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
    )
    server = uvicorn.Server(config)
    config.load()
    server.lifespan = config.lifespan_class(config)
    await server.startup()  # listening once this returns
    before = rss_kb()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # every client connected
    print(
        json.dumps({"sockets": sockets, "kb_per_socket": round((rss_kb() - before) / sockets, 1)})
    )
    await server.shutdown()


async def clients(sockets: int) -> None:
    from websockets.asyncio.client import connect

    port = free_port()
    server = await asyncio.create_subprocess_exec(
        *(sys.executable, __file__, "--role", "server", "--port", str(port)),
        *("--sockets", str(sockets)),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert server.stdin is not None
    assert server.stdout is not None
    try:
        await server.stdout.readline()  # "ready"
        url = f"ws://127.0.0.1:{port}/ws"
        held = [await connect(url, compression=None, ping_interval=None) for _ in range(sockets)]
        server.stdin.write(b"go\n")
        await server.stdin.drain()
        print((await server.stdout.readline()).decode().strip(), flush=True)
        for ws in held:
            await ws.close()
    finally:
        await asyncio.wait_for(server.wait(), 30)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=500, help="idle clients (500)")
    parser.add_argument("--role", default="main", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.sockets <= 10_000:
        parser.error("--sockets out of range")
    if args.role == "server":
        import uvloop

        uvloop.run(serve(args.port, args.sockets))
    else:
        asyncio.run(clients(args.sockets))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
