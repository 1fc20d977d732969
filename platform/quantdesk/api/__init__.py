"""The desk over HTTP: a token-authenticated JSON API (FastAPI on uvicorn) under the one policy.

Programs read the book and act through the same functions as the CLI and the pages; every
request passes `quantdesk.api.auth.permit` (the token's scope and the policy for its user).

    from quantdesk.api import create_app, serve
    serve(host="127.0.0.1", port=8080)           # what `quantdesk api serve` runs
"""

from quantdesk.api.app import create_app
from quantdesk.api.config import ApiConfig
from quantdesk.api.server import serve

__all__ = ["ApiConfig", "create_app", "serve"]
