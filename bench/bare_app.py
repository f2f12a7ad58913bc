"""The ceiling for `bench/ingest_rate.py`: the same HTTP stack as `ingest serve`, doing nothing.

`ingest serve` is Starlette under a single uvicorn worker (uvloop and httptools when installed,
`log_config=None, access_log=False, server_header=False`). This app runs under exactly those
settings and its POST endpoint does the minimum any webhook endpoint must: read the whole body and
parse it as JSON. The difference between its rate and the service's is therefore what the service
itself costs (signature check, normalization, the database transaction, the relay), not what
Python, uvicorn or Starlette cost.

Run as a script: `python bench/bare_app.py --port 8123` (127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import json

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def receive(request: Request) -> Response:
    """Read and parse the body, answer with a response the size of the service's."""
    body = await request.body()
    event = json.loads(body)
    return JSONResponse({"status": "accepted", "id": len(event)})


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/webhooks/{source}", receive, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # The settings `ingest serve --workers 1` passes to uvicorn.run (ingest/cli/serve.py).
    uvicorn.run(
        create_app(),
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
