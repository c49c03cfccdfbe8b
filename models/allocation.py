"""The outcome of an allocation step (quotas, budgets) inside a transition."""
from dataclasses import dataclass, field


@dataclass
class Allocation:
    """What an allocation step decided: rows granted, rows refused with a reason."""

    granted: list[int]
    refused: dict[int, str] = field(default_factory=dict)
