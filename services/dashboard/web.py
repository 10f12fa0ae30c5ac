"""The dashboard over HTTP (aiohttp): the page, its static files and the JSON API.

Thin, as the gRPC servicers are: decode the request, ask the poller, encode JSON.

- ``GET /``: the page. ``GET /static/...``: its script, style and the vendored uPlot.
- ``GET /api/suite``: the tenants polled (named and found in drift), poll timing, and whether each
  service answered the last call.
- ``GET /api/tenants/{tenant}``: that tenant's chart columns, newest sample, drift alerts, models
  and jobs. 404 for a tenant not polled.
- ``GET /api/tenants/{tenant}/cost?origin_read=&gb_hour=&gpu_hour=&gpus=``: the cost view over
  the tenant's window with the prices given (none: counts only). 400 names a bad price.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from predis.services.dashboard.poller import SuitePoller
from predis.services.dashboard.roi import Prices, cost_view

STATIC = Path(__file__).resolve().parent / "static"
POLLER = web.AppKey("poller", SuitePoller)
# The page loads nothing from elsewhere (it must work offline) and is framed by nobody; uPlot sets
# element styles from its script, hence the inline styles.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null (as a missing value does)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _json(body: Any, status: int = 200) -> web.Response:
    text = json.dumps(_finite(body), allow_nan=False, separators=(",", ":"))
    return web.Response(
        text=text, status=status, content_type="application/json", headers={"Cache-Control": "no-store"}
    )


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


def _tenant(request: web.Request) -> str | None:
    tenant = request.match_info["tenant"]
    return tenant if tenant in request.app[POLLER].tenants else None


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def no_icon(request: web.Request) -> web.Response:
    return web.Response(status=204)  # browsers ask; an empty answer keeps their consoles clean


async def suite(request: web.Request) -> web.Response:
    return _json(request.app[POLLER].suite_view())


async def tenant_view(request: web.Request) -> web.Response:
    tenant = _tenant(request)
    if tenant is None:
        return _error(404, f"tenant {request.match_info['tenant']!r:.80} is not one the dashboard polls")
    return _json(request.app[POLLER].tenant_view(tenant))


async def tenant_cost(request: web.Request) -> web.Response:
    tenant = _tenant(request)
    if tenant is None:
        return _error(404, f"tenant {request.match_info['tenant']!r:.80} is not one the dashboard polls")
    try:
        prices = Prices.from_query(request.query)
    except ValueError as error:
        return _error(400, str(error))
    poller = request.app[POLLER]
    return _json({"tenant": tenant, **cost_view(poller.history.samples(tenant), prices)})


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.update(SECURITY_HEADERS)
    return response


def create_app(poller: SuitePoller) -> web.Application:
    app = web.Application(middlewares=[security_headers])
    app[POLLER] = poller
    app.router.add_get("/", index)
    app.router.add_get("/favicon.ico", no_icon)
    app.router.add_get("/api/suite", suite)
    app.router.add_get("/api/tenants/{tenant}", tenant_view)
    app.router.add_get("/api/tenants/{tenant}/cost", tenant_cost)
    app.router.add_static("/static/", STATIC, follow_symlinks=False)
    return app
