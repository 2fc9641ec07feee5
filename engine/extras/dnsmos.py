"""DNSMOS scorer: the P.835 ONNX models bundled with `speechmos`, run on CPU with no network access.

`speechmos` imports `requests` but downloads nothing (its models ship in the wheel). Its own entry
point raises on samples outside [-1, 1], loops forever on empty input, doubles short clips until
they pass 9 s (an 8 s clip becomes 16 s: 7 windows) and slides its 9 s window in 1 s hops (22 model
runs for a 30 s clip). Here each clip becomes exact 9 s windows instead: a short clip repeated to
one window, a long one cut into non-overlapping windows (the last ending at the clip's end); empty
or non-finite audio is not rated.
"""
from __future__ import annotations

import os

import numpy as np

from engine.extras import ExtraOptions, Scorer
from engine.io.audio import SAMPLE_RATE
from engine.scores.dnsmos import dnsmos

WINDOW = int(9.01 * SAMPLE_RATE)  # speechmos's model input length (INPUT_LENGTH)


def clip_windows(samples: np.ndarray) -> list[np.ndarray]:
    """WINDOW-sample pieces covering the clip, clipped to [-1, 1]: a short clip repeated to fill one,
    a long one in non-overlapping pieces. No pieces for empty or non-finite audio."""
    if len(samples) == 0 or not np.isfinite(samples).all():
        return []
    samples = np.clip(samples.astype(np.float32), -1.0, 1.0)
    if len(samples) <= WINDOW:
        return [np.resize(samples, WINDOW)]
    starts = np.linspace(0, len(samples) - WINDOW, int(np.ceil(len(samples) / WINDOW))).astype(int)
    return [samples[s : s + WINDOW] for s in starts]


def load_dnsmos(threads: int = 0):
    """speechmos's DNSMOS model (non-personalised), its ONNX sessions limited to `threads` (0 = all cores)."""
    import onnxruntime as ort
    from speechmos import dnsmos as speechmos_dnsmos

    folder = os.path.join(os.path.dirname(speechmos_dnsmos.__file__), "dnsmos_models")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    model = speechmos_dnsmos.DNSMOS.__new__(speechmos_dnsmos.DNSMOS)  # its __init__ takes no session options
    model.primary_model_path = os.path.join(folder, "sig_bak_ovr.onnx")
    model.onnx_sess = ort.InferenceSession(model.primary_model_path, options, providers=["CPUExecutionProvider"])
    model.p808_onnx_sess = ort.InferenceSession(os.path.join(folder, "model_v8.onnx"), options,
                                                providers=["CPUExecutionProvider"])
    return model


def window_mos(model, samples: np.ndarray) -> np.ndarray:
    """(windows, 3) array of (sig, bak, ovrl) MOS of one clip; (0, 3) when it cannot be rated."""
    rows = []
    for window in clip_windows(samples):
        result = model(window, SAMPLE_RATE, False)
        rows.append((result["sig_mos"], result["bak_mos"], result["ovrl_mos"]))
    return np.array(rows, dtype=np.float32).reshape(-1, 3)


def dnsmos_scorer(options: ExtraOptions) -> Scorer:
    """DNSMOS sig/bak/ovrl per clip (CPU only: the models are small)."""
    model = load_dnsmos(options.threads)
    return lambda batch: dnsmos([window_mos(model, s) for s in batch.samples])
