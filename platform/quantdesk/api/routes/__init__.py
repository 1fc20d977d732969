"""The API's routes, one module per area: desk, risk, research, admin (reads); trading, promotion (acts); events."""

__all__: list[str] = []
