"""DNSMOS: non-intrusive speech quality (ITU-T P.835 style), a stand-in for PESQ when no clean reference exists."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

COLUMNS = {"dnsmos_sig": True, "dnsmos_bak": True, "dnsmos_ovrl": True}
ORDER = 150  # place in the registry: the app lists scores in this order
FAMILIES = {"dnsmos_ovrl": "quality", "dnsmos_sig": "quality", "dnsmos_bak": "quality"}  # combined's family of each column


def dnsmos(window_mos: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Mean opinion scores of each clip, averaged over its ~9 s windows; about 1 to 5, higher = better.

    `dnsmos_sig` rates the speech itself (distortion), `dnsmos_bak` the background (noise, hum),
    `dnsmos_ovrl` both. Weak predictors of label quality on their own: a clean clip can still get
    a wrong label, and Whisper reads moderate noise well.
    Parameters: per clip, a (windows, 3) array of (sig, bak, ovrl) MOS; zero windows = not rated.
    Returns: {column: (N,) float32}, NaN for clips without a window.
    """
    means = np.array([w.mean(axis=0) if len(w) else np.full(3, np.nan) for w in window_mos], dtype=np.float32)
    means = means.reshape(len(window_mos), 3)
    return {column: means[:, i] for i, column in enumerate(COLUMNS)}
