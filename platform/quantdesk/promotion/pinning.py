"""The code pin: a deployment runs only the strategy source its evidence was produced with."""

from __future__ import annotations

from quantdesk.core.errors import PromotionError, StrategyError
from quantdesk.promotion.deployment import Deployment
from quantdesk.strategies import load_strategy, strategy_source_hash

__all__ = ["check_pinned", "check_startable", "current_code_hash"]


def current_code_hash(strategy_ref: str) -> str:
    """Return the source hash of the strategy named by `strategy_ref` as it is on disk now."""
    cls = load_strategy(strategy_ref)
    return strategy_source_hash(cls)


def check_pinned(deployment: Deployment) -> None:
    """Return None when the strategy source still hashes to the deployment's pinned code hash.

    Raise PromotionError when it changed (or cannot be loaded): the deployment must be
    promoted again with fresh evidence before it may start.
    """
    try:
        now = current_code_hash(deployment.strategy)
    except StrategyError as e:
        raise PromotionError(
            f"deployment {deployment.name!r} cannot load its strategy {deployment.strategy!r} ({e}); "
            "restore it or promote again"
        ) from e
    if now != deployment.code_hash:
        raise PromotionError(
            f"deployment {deployment.name!r} is pinned to code hash {deployment.code_hash[:12]} but "
            f"{deployment.strategy} now hashes to {now[:12]}: the strategy source changed since its evidence; "
            f"backtest it again and run `quantdesk promote {deployment.strategy} --run RUN_ID "
            f"--to {deployment.stage.value} --name {deployment.name}`"
        )


def check_startable(deployment: Deployment) -> None:
    """Raise PromotionError unless the runner may start the deployment: paper or live, and pinned."""
    if not deployment.is_tradable:
        raise PromotionError(
            f"deployment {deployment.name!r} is at stage {deployment.stage.value}; only paper and live "
            f"deployments run: promote it with `quantdesk promote ... --to paper --name {deployment.name}`"
        )
    check_pinned(deployment)
