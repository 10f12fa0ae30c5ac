"""Real, tiny ONNX models for tests: scikit-learn fitted on synthetic data, exported by skl2onnx."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def make_model_dir(
    directory: Path, features: int = 4, flip: bool = False, seed: int = 0, names: Sequence[str] | None = None
) -> Path:
    """Writes model.onnx + model.json; the model's probability rises with the first feature
    (falls, with ``flip``). The card names ``names`` (f0, f1, ... when None). Returns the directory."""
    if names is not None:
        features = len(names)
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, features)).astype(np.float32)
    y = ((x[:, 0] < 0) if flip else (x[:, 0] > 0)).astype(int)
    model = LogisticRegression().fit(x, y)
    onnx_model = to_onnx(model, x[:1], options={id(model): {"zipmap": False}})
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.onnx").write_bytes(onnx_model.SerializeToString())
    named = list(names) if names is not None else [f"f{i}" for i in range(features)]
    card = {"features": named, "model": "LogisticRegression", "seed": seed}
    (directory / "model.json").write_text(json.dumps(card))
    return directory


def sklearn_probabilities(directory: Path, rows: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(directory / "model.onnx"), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: rows.astype(np.float32)})[1][:, 1]
