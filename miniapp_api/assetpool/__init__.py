"""The digital asset pool (/api/v1/assetpool): pools, assets, margin, bills against capacity,
the maturity ladder, statements and the versioned configuration.

An enterprise user sees and changes only its own org's pool (another's is 404); bank staff see
every pool. Views call the write side ``backend.assetpool.service`` or the read side
``backend.assetpool.queries``; the shapes are in ``schemas``."""

from miniapp_api.assetpool.views import blp

__all__ = ["blp"]
