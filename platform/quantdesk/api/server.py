"""Run the API under uvicorn: one process, its access log free of tokens (they travel in headers)."""

from __future__ import annotations

__all__ = ["serve"]


def serve(*, host: str = "127.0.0.1", port: int = 8080, log_level: str = "info") -> None:
    """Serve the API on `host:port` until interrupted (SIGINT/SIGTERM end it cleanly)."""
    import uvicorn

    from quantdesk.api.app import create_app

    app = create_app()
    # proxy headers are trusted from localhost only (uvicorn's default): the rate limit's client
    # address is the peer's, or the forwarded one when a local reverse proxy sets it
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False, date_header=True)
