"""The asset pool's write side: use cases ``(session, actor, ...)`` that raise
``backend.platform.errors``, never commit, and audit every change."""

from backend.assetpool.service.assets import enter_asset, pledge_asset, unpledge_asset
from backend.assetpool.service.bills import accept_bill, pay_bill
from backend.assetpool.service.config import in_force
from backend.assetpool.service.configure import change_config
from backend.assetpool.service.margin import deposit_cash, pay_in_margin, withdraw_margin
from backend.assetpool.service.maturity import mature_asset, mature_assets, pay_due_bills
from backend.assetpool.service.pools import figures, open_pool, refresh, refresh_all

__all__ = [
    "accept_bill",
    "change_config",
    "deposit_cash",
    "enter_asset",
    "figures",
    "in_force",
    "mature_asset",
    "mature_assets",
    "open_pool",
    "pay_bill",
    "pay_due_bills",
    "pay_in_margin",
    "pledge_asset",
    "refresh",
    "refresh_all",
    "unpledge_asset",
    "withdraw_margin",
]
