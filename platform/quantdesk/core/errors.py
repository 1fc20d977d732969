"""The typed error tree. Every error quantdesk raises on purpose is a `QuantdeskError`.

A message says what failed, the bad value, and what to do about it. The CLI prints
`str(error)` as its one-line error, so keep messages to one sentence or two.
"""

from __future__ import annotations

__all__ = [
    "ArbitrageError",
    "AuthenticationError",
    "BacktestError",
    "BrokerError",
    "ConfigError",
    "DataError",
    "DepthExhaustedError",
    "ExchangeUnavailableError",
    "IdentityError",
    "ImportFormatError",
    "IngestError",
    "InsufficientFundsError",
    "LakeError",
    "LeaseHeldError",
    "LedgerError",
    "LookaheadError",
    "OrderNotFoundError",
    "OrderRejectedError",
    "OrderStateUnknownError",
    "PermissionDeniedError",
    "PromotionError",
    "QuantdeskError",
    "RateLimitedError",
    "ReconciliationError",
    "RiskError",
    "SchemaError",
    "SequenceGapError",
    "StrategyError",
    "VenueError",
]


class QuantdeskError(Exception):
    """Root of every error quantdesk raises on purpose."""

    exit_code: int = 1


class ConfigError(QuantdeskError):
    """Settings or `quantdesk.toml` are missing, malformed or contradictory."""

    exit_code = 2


# -- data ---------------------------------------------------------------------------------


class DataError(QuantdeskError):
    """Market data is missing, malformed or inconsistent."""


class LakeError(DataError):
    """The candle lake refused a read or a write."""


class SchemaError(LakeError):
    """A frame does not have the candle contract's columns or types; nothing was written."""


class ImportFormatError(DataError):
    """A file to import is of an unknown or malformed format."""


class IngestError(DataError):
    """Fetching candles from a venue failed for a reason retries cannot fix."""


class ExchangeUnavailableError(IngestError):
    """The venue could not be reached after the configured retries."""


# -- research -----------------------------------------------------------------------------


class StrategyError(QuantdeskError):
    """A strategy could not be loaded, parameterised or evaluated."""


class LookaheadError(StrategyError):
    """A strategy's target at some bar depends on data after that bar."""


class BacktestError(QuantdeskError):
    """A backtest, sweep or walk-forward could not run or its run could not be found."""


# -- execution ----------------------------------------------------------------------------


class LedgerError(QuantdeskError):
    """The ledger database refused an operation or is not migrated."""


class RiskError(QuantdeskError):
    """The risk configuration is invalid (denials themselves are values, not errors)."""


class BrokerError(QuantdeskError):
    """A broker or venue operation failed."""


class RateLimitedError(BrokerError):
    """The venue asked us to slow down (HTTP 429/418); wait `retry_after_s` before retrying."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class InsufficientFundsError(BrokerError):
    """The venue refused an order for lack of balance."""


class OrderRejectedError(BrokerError):
    """The venue refused an order as invalid."""


class OrderNotFoundError(BrokerError):
    """The venue has no order with that id."""


class OrderStateUnknownError(BrokerError):
    """The venue did not answer and lookups could not tell whether it has the order; it stays in flight."""


class VenueError(BrokerError):
    """The venue answered with an error that is not one of the specific ones."""


class ReconciliationError(BrokerError):
    """The ledger and the venue disagree and trading must not start."""


class PromotionError(QuantdeskError):
    """A promotion, approval or deployment start was refused."""


class LeaseHeldError(PromotionError):
    """Another runner holds the deployment's lease (exactly one runner per deployment)."""


class IdentityError(QuantdeskError):
    """Who is acting: unknown or disabled users, wrong passwords, missing permissions."""


class AuthenticationError(IdentityError):
    """A login or a password check failed. The message never says which part was wrong."""

    exit_code = 3


class PermissionDeniedError(IdentityError):
    """The acting identity may not take the action: unregistered, disabled or the wrong role.

    Raised by `quantdesk.identity.policy.authorize`, the one check every door asks.
    """

    exit_code = 4


# -- arbitrage (issue 28) ------------------------------------------------------------------


class ArbitrageError(DataError):
    """An arbitrage scan was asked something it cannot answer: a bad size, a missing market, no rate."""


class DepthExhaustedError(ArbitrageError):
    """A book holds less than the size asked for: `levels` levels were walked and were not enough."""

    def __init__(self, message: str, *, levels: int = 0) -> None:
        super().__init__(message)
        self.levels = levels


class SequenceGapError(ArbitrageError):
    """A book's update ids jumped: updates were lost, so the book is wrong until a new snapshot."""
