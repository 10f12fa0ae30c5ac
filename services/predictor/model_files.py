"""A model directory as the predictor loads it: ``model.onnx`` and its card ``model.json``.

The card names the features in the order the model expects (``features``); anything else in it
(training window, trace digest, hyperparameters, offline metrics, library versions) is kept and
shown but not interpreted here. Loading opens an ONNX Runtime session (the CUDA provider when
ONNX Runtime offers it, the CPU otherwise), checks the input width against the card, and scores
one batch before the version is offered any traffic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from predis.services.runtime.errors import InvalidInput, NotFound

PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


@dataclass(frozen=True)
class ModelCard:
    features: tuple[str, ...]
    raw: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> ModelCard:
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise NotFound(f"{path} does not exist; a model directory holds model.onnx and model.json") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{path} is not valid JSON: {exc}") from None
        features = raw.get("features") if isinstance(raw, dict) else None
        if not isinstance(features, list) or not features or not all(isinstance(f, str) for f in features):
            raise InvalidInput(f"{path} must name the model's input features as a non-empty list under 'features'")
        return cls(tuple(features), raw)


class OnnxScorer:
    """Scores feature rows with one ONNX model: the probability of the positive class per row."""

    def __init__(self, model_path: Path, feature_count: int) -> None:
        import onnxruntime as ort

        if not model_path.is_file():
            raise NotFound(f"{model_path} does not exist")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one batch is small; threads would cost more than they save
        available = ort.get_available_providers()
        providers = [p for p in PREFERRED_PROVIDERS if p in available]
        try:
            self._session = ort.InferenceSession(str(model_path), options, providers=providers)
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime raises several types for bad files
            raise InvalidInput(f"{model_path} could not be loaded by ONNX Runtime: {exc}") from None
        self.execution_provider = self._session.get_providers()[0]
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise InvalidInput(f"{model_path} has {len(inputs)} inputs; the predictor needs one feature matrix")
        self._input = inputs[0].name
        width = inputs[0].shape[-1] if inputs[0].shape else None
        if isinstance(width, int) and width != feature_count:
            raise InvalidInput(f"{model_path} takes {width} features but its card names {feature_count}")
        self.feature_count = feature_count
        self.score(np.zeros((1, feature_count), dtype=np.float32))  # warm up before any traffic

    def score(self, features: np.ndarray) -> np.ndarray:
        outputs = self._session.run(None, {self._input: features})
        probabilities = outputs[-1]  # skl2onnx classifiers: [label, probabilities]
        probabilities = np.asarray(probabilities, dtype=np.float32)
        return probabilities[:, -1] if probabilities.ndim == 2 else probabilities.reshape(-1)


def open_model_dir(path: str) -> tuple[ModelCard, OnnxScorer]:
    directory = Path(path)
    if not directory.is_dir():
        raise NotFound(f"model directory {path!r} does not exist on the predictor's machine")
    card = ModelCard.read(directory / "model.json")
    return card, OnnxScorer(directory / "model.onnx", len(card.features))
