"""What the paper reports: its headline figures, as targets the studies compare with.

Firgiawan (2025), *Implementation and Evaluation of MobileNetV2 for Binary Image
Classification on the Cats vs Dogs Dataset Using Transfer Learning*, COFIJO.
"""

from __future__ import annotations

import dataclasses

from catsdogs.markdown import paper_percent


@dataclasses.dataclass(frozen=True)
class PaperClaims:
    """The paper's reported figures (targets, not results)."""

    images: int = 24998
    accuracy: float = 0.989
    precision: float = 0.99
    recall: float = 0.99
    f1: float = 0.99
    parameters: float = 3.5e6
    file_size_mb: float = 14.0
    latency_ms_per_image: float = 50.0
    latency_hardware: str = "GPU (unspecified)"

    def has(self, name: str) -> bool:
        """Whether the paper reports the figure ``name`` (a field of this class)."""
        return name in {f.name for f in dataclasses.fields(self)}


#: What the paper reports.
PAPER = PaperClaims()


#: The paper writes its accuracy as a percentage (98.9 %) and its precision, recall and F1 as
#: fractions (0.99). The book quotes each as the paper wrote it, and gives its own figures of
#: all four as percentages with two decimals.
PAPER_IN_PERCENT = frozenset({"accuracy"})


def paper_figure(key: str) -> str:
    """A figure of the paper as the paper wrote it: ``"98.9 %"``, ``"0.99"``."""
    value = getattr(PAPER, key)
    return paper_percent(value) if key in PAPER_IN_PERCENT else f"{value:g}"
