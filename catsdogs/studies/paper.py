"""What the paper reports: its headline figures, as targets the studies compare with.

Firgiawan (2025), *Implementation and Evaluation of MobileNetV2 for Binary Image
Classification on the Cats vs Dogs Dataset Using Transfer Learning*, COFIJO.
"""

from __future__ import annotations

from typing import Any

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
