"""What the pages say for the library's reason codes (the words live with the UI)."""

from __future__ import annotations

# `mnistkit.preprocess.Preprocessed.reason`: why a drawing or upload gave no model input.
PREPROCESS_REASONS = {
    "empty": "Draw a digit",
    "dot": "That looks like a single dot — draw a whole digit",
}
