"""Build the FastAPI application: routes under /v1, docs served from this server, limits, JSON errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from quantdesk.api.brokers import Brokers, Opener
from quantdesk.api.config import ApiConfig
from quantdesk.api.context import ApiContext
from quantdesk.api.delivery import OutboxDrain
from quantdesk.api.errors import install_error_handlers
from quantdesk.api.events import ChangeHub
from quantdesk.api.limits import Guard, TokenBuckets
from quantdesk.api.routes import admin, desk, events, promotion, research, risk, trading
from quantdesk.ledger import Ledger

__all__ = ["create_app"]

DESCRIPTION = """The desk over HTTP, under the same authorization policy as the CLI and the pages.

Send `Authorization: Bearer TOKEN` (an admin creates tokens with `quantdesk api token create
--user NAME --scope read|trade|admin`). A token acts as its user with at most its scope, never
beyond the user's role. Money is a string holding an exact decimal; times are ISO 8601 in UTC.
Lists are paged: pass `limit` and the previous page's `next_cursor` as `cursor`. Every error is
`{"error": {"code": ..., "message": ...}}`. Acting POSTs take an `Idempotency-Key` header
(required to place an order): a retry with the same key gets the first answer and never acts twice.
"""


def _docs_assets() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def create_app(*, ledger: Ledger | None = None, config: ApiConfig | None = None, opener: Opener | None = None,
               lake: Any = None) -> FastAPI:
    """Return the API app over `ledger` (default: the configured one, opened here and closed at shutdown).

    `opener(venue)` builds an unstarted gated broker for a venue (default: `open_gated`, as the
    CLI does); `lake` is the candle lake (default: the configured one).
    """
    from quantdesk import __version__

    config = config or ApiConfig.from_settings()
    owned = ledger is None
    ledger = ledger if ledger is not None else Ledger()

    def open_venue(venue: str) -> Any:
        from quantdesk.broker.factory import open_gated

        return open_gated(venue, actor="api", ledger=ledger)

    ctx = ApiContext(ledger=ledger, config=config, brokers=Brokers(opener or open_venue), hub=ChangeHub(ledger),
                     drain=OutboxDrain(ledger), token_buckets=TokenBuckets(config.token_rate_per_s, config.token_burst),
                     address_buckets=TokenBuckets(config.address_rate_per_s, config.address_burst), lake=lake)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await ctx.hub.close()
        ctx.brokers.close()
        if owned:
            ledger.close()

    app = FastAPI(title="quantdesk API", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", lifespan=lifespan)
    app.state.desk = ctx
    install_error_handlers(app)
    for module in (desk, risk, research, admin, trading, promotion, events):
        app.include_router(module.router, prefix="/v1")
    # the docs page's script and style come from this server, so it works offline (no CDN)
    app.mount("/docs-assets", StaticFiles(directory=_docs_assets()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title="quantdesk API",
                                   swagger_js_url=f"{root}/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}/docs-assets/swagger-ui.css",
                                   swagger_favicon_url=f"{root}/docs-assets/favicon.png")

    app.add_middleware(Guard, addresses=ctx.address_buckets, max_body_bytes=config.max_body_bytes)
    return app
