"""Tariffs: what energy costs at a time, and what a site's grid exchange costs per month."""

from ems.tariff.config import PriceConfig, TariffConfig, TouWindow
from ems.tariff.cost import DEMAND_INTERVAL_S, CostAccumulator, MonthBill
from ems.tariff.prices import PriceAt, Tariff

__all__ = [
    "DEMAND_INTERVAL_S",
    "CostAccumulator",
    "MonthBill",
    "PriceAt",
    "PriceConfig",
    "Tariff",
    "TariffConfig",
    "TouWindow",
]
