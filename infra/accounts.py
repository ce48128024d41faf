"""Which accounts a mode creates, their ARM kinds, and the SKUs Azure offers for each kind.

Modes (all accounts in one region: publishing needs training and prediction side by side):
  multi-service  one `CognitiveServices` account serves training and prediction
  split          `CustomVision.Training` + `CustomVision.Prediction`
  mixed          `CustomVision.Training` + a `CognitiveServices` account for prediction

`AIServices` (the newer multi-service kind) is not offered: Microsoft lists Custom Vision only under
the `CustomVision.Training` / `CustomVision.Prediction` kinds and names it among the services the
`AIServices` resource does not include (docs/deploy.md, "Account kinds", with the source).
"""
from __future__ import annotations

from dataclasses import dataclass

MULTI_SERVICE_KIND = "CognitiveServices"
TRAINING_KIND = "CustomVision.Training"
PREDICTION_KIND = "CustomVision.Prediction"

KINDS: dict[str, dict[str, str]] = {
    "multi-service": {"multi-service": MULTI_SERVICE_KIND},
    "split": {"training": TRAINING_KIND, "prediction": PREDICTION_KIND},
    "mixed": {"training": TRAINING_KIND, "prediction": MULTI_SERVICE_KIND},
}

# The SKUs Azure offers per kind (`az cognitiveservices account list-skus --kind KIND --location REGION`):
# the free tier exists only for the single-service Custom Vision kinds; multi-service is Standard only.
KIND_SKUS: dict[str, tuple[str, ...]] = {
    MULTI_SERVICE_KIND: ("S0",),
    TRAINING_KIND: ("F0", "S0"),
    PREDICTION_KIND: ("F0", "S0"),
}
# Azure refuses a second free account of one kind in a subscription (CanNotCreateMultipleFreeAccounts).
FREE_TIER_NOTE = "Azure allows one F0 account of each kind per subscription"

# "<prefix>-prediction" is the longest name a prefix becomes.
LONGEST_SUFFIX = "-prediction"


@dataclass(frozen=True)
class AccountPlan:
    """One account to create: its role in the pair, ARM kind, sku and name."""

    role: str  # "training", "prediction" or "multi-service"
    kind: str
    sku: str
    name: str

    @property
    def serves_training(self) -> bool:
        return self.role in ("training", "multi-service")

    @property
    def serves_prediction(self) -> bool:
        return self.role in ("prediction", "multi-service")


def plan_accounts(mode: str, name_prefix: str, training_sku: str, prediction_sku: str) -> list[AccountPlan]:
    """The accounts a configuration asks for, before any resource exists."""
    plans = []
    for role, kind in KINDS[mode].items():
        sku = prediction_sku if role == "prediction" else training_sku
        name = name_prefix if role == "multi-service" else f"{name_prefix}-{role}"
        plans.append(AccountPlan(role=role, kind=kind, sku=sku, name=name))
    return plans
