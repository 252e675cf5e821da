"""Which split a model card records: its train/validation fraction and split seed (plain
functions of the card's JSON, light enough for the CLI's recipe module)."""

from __future__ import annotations

from typing import Any


def split_seed(recipe: dict[str, Any]) -> int:
    """The seed of a recipe's train/validation split (older cards have only ``seed``)."""
    chosen = recipe.get("split_seed")
    return recipe.get("seed", 42) if chosen is None else chosen


def validation_split(training: dict[str, Any]) -> tuple[float, int]:
    """(validation fraction, split seed) of a card's ``training`` section; an ensemble's is its
    members' (``skindx ensemble`` makes them share one)."""
    members = training.get("members") or []
    recipe = training.get("recipe") or (members[0].get("recipe") if members else None) or {}
    return recipe.get("val_fraction", 0.15), split_seed(recipe)
