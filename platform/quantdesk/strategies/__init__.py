"""Strategies: the `Strategy` contract, parameters, the built-ins and the loader."""

from quantdesk.strategies.base import Param, Strategy, param, registry
from quantdesk.strategies.loader import load_strategy, strategy_source_hash

__all__ = ["Param", "Strategy", "load_strategy", "param", "registry", "strategy_source_hash"]
