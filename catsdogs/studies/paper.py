"""What the paper reports: its headline figures, as targets the studies compare with.

Firgiawan (2025), *Implementation and Evaluation of MobileNetV2 for Binary Image
Classification on the Cats vs Dogs Dataset Using Transfer Learning*, COFIJO.
"""

from __future__ import annotations

from typing import Any

from catsdogs.markdown import paper_percent

#: The paper's reported figures (targets, not results).
PAPER_CLAIMS: dict[str, Any] = {
    "images": 24998,
    "accuracy": 0.989,
    "precision": 0.99,
    "recall": 0.99,
    "f1": 0.99,
    "parameters": 3.5e6,
    "file_size_mb": 14.0,
    "latency_ms_per_image": 50.0,
    "latency_hardware": "GPU (unspecified)",
}


#: The paper writes its accuracy as a percentage (98.9 %) and its precision, recall and F1 as
#: fractions (0.99). The book quotes each as the paper wrote it, and gives its own figures of
#: all four as percentages with two decimals.
PAPER_IN_PERCENT = frozenset({"accuracy"})


def paper_figure(key: str) -> str:
    """A figure of the paper as the paper wrote it: ``"98.9 %"``, ``"0.99"``."""
    value = PAPER_CLAIMS[key]
    return paper_percent(value) if key in PAPER_IN_PERCENT else f"{value:g}"
