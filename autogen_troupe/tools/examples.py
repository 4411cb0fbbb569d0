"""Small, harmless typed functions to use as Python tools in scenarios and tests.

tools: [autogen_troupe.tools.examples:trip_budget]
"""

from __future__ import annotations

from typing import Annotated, Literal

__all__ = ["packing_list", "trip_budget"]

_PACKING = {
    "hot": ["light clothes", "sun hat", "sunscreen", "refillable water bottle"],
    "temperate": ["layers", "light rain jacket", "comfortable walking shoes"],
    "cold": ["warm jacket", "thermal layers", "gloves", "wool hat"],
}


def trip_budget(
    days: Annotated[int, "Number of days of the trip, at least 1."],
    daily_usd: Annotated[float, "Expected spending per person per day, in US dollars."],
    travellers: Annotated[int, "How many people travel."] = 1,
) -> str:
    """Estimate a trip's total budget in US dollars, with a 10% reserve for surprises."""
    if days < 1 or travellers < 1:
        raise ValueError("days and travellers must be at least 1")
    if daily_usd < 0:
        raise ValueError("daily_usd cannot be negative")
    base = days * daily_usd * travellers
    return (
        f"{days} days x {travellers} traveller(s) x ${daily_usd:,.2f}/day = ${base:,.2f}; "
        f"with a 10% reserve: ${base * 1.1:,.2f}"
    )


def packing_list(
    climate: Annotated[Literal["hot", "temperate", "cold"], "The destination's weather."],
    days: Annotated[int, "Length of the trip in days."] = 3,
) -> str:
    """Suggest what to pack for a trip, by climate and length."""
    items = ["passport", "phone charger and plug adapter", *_PACKING[climate]]
    if days > 7:
        items.append("laundry bag")
    return ", ".join(items)
