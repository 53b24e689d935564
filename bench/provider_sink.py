"""A local provider server (``afterorder.dev.sinks``) in its own process, for ``bench/channels.py``.

    python bench/provider_sink.py line --port 8601 --latency 0.005
    python bench/provider_sink.py ses --port 8602 --latency 0.005

Serves the sink's app with uvicorn on 127.0.0.1 (its own event loop and CPU, so the sink's work is
not counted in the delivery being measured) and, beside the provider's routes, ``GET /_bench/accepted``:
``{"requests": N, "accepted": N, "keys": [...]}`` — every request that reached it and the key of each
message it accepted (LINE: the ``X-Line-Retry-Key``; SES: the MIME's Message-ID), so the bench can
check each message was taken exactly once.  The credentials are the sinks' development ones
(:data:`LINE_TOKEN`, :data:`SES_KEY_ID` / :data:`SES_SECRET` in :data:`SES_REGION`).
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from afterorder.dev.sinks import ses
from afterorder.dev.sinks.base import Sink
from afterorder.dev.sinks.line import DEV_TOKEN, LineSink

LINE_TOKEN = DEV_TOKEN
SES_KEY_ID = "AKIABENCHEXAMPLE0001"
SES_SECRET = "bench/secret/access/key/not/a/real/one/0000"
SES_REGION = "us-east-1"
PROVIDERS = ("line", "ses")
ACCEPTED_PATH = "/_bench/accepted"


def build(provider: str, latency: float) -> tuple[Starlette, Sink]:
    """The provider's local server with ``latency`` seconds on every answer, and its record."""
    if provider == "line":
        line = LineSink(latency=latency)
        return line.app(), line
    sink = Sink(latency=latency)
    return ses.app(sink, access_key_id=SES_KEY_ID, secret_access_key=SES_SECRET, region=SES_REGION), sink


def with_record(app: Starlette, sink: Sink) -> Starlette:
    async def accepted(_request: Request) -> Response:
        return JSONResponse({"requests": len(sink.requests), "accepted": len(sink.accepted),
                             "keys": [a.key for a in sink.accepted]})

    app.add_route(ACCEPTED_PATH, accepted, methods=["GET"])
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("provider", choices=PROVIDERS)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.005, help="seconds every answer waits")
    args = parser.parse_args()
    app, sink = build(args.provider, args.latency)
    uvicorn.run(with_record(app, sink), host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                lifespan="off", backlog=1024)


if __name__ == "__main__":
    main()
