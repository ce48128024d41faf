"""Azure's pricing tiers in the self-hosted service: the table (table.py), the request-rate limiter the gateway
runs (limiter.py); the quotas are enforced by the store, in its transactions, with the tier's numbers."""
from .limiter import RateLimiter
from .table import DEFAULT_TIER, SOURCE, TIERS, Tier, tier_named

__all__ = ["DEFAULT_TIER", "SOURCE", "TIERS", "RateLimiter", "Tier", "tier_named"]
