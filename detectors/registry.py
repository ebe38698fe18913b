"""One registry of account-level detectors, so that one contract test can run over all of them.

A registered factory builds an unfitted :class:`~detectors.base.AccountDetector` from
defaults that need no external data (``tests/detectors/test_contract.py`` fits and runs
each on tiny procedural event frames: determinism, row-order independence, pickling,
empty and single-row input, missing optional fields, every retention mode).

Other packages register theirs at import time::

    from detectors.registry import register
    register("linking.shared_payment", SharedPaymentFeatures)
"""

from __future__ import annotations

from collections.abc import Callable

from detectors.base import AccountDetector

DetectorFactory = Callable[[], AccountDetector]

_REGISTRY: dict[str, DetectorFactory] = {}


def register(name: str, factory: DetectorFactory) -> DetectorFactory:
    """Add a detector factory under a unique name (re-registering the same factory is a no-op)."""
    existing = _REGISTRY.get(name)
    if existing is not None and existing is not factory:
        raise ValueError(f"a different detector is already registered as {name!r}")
    _REGISTRY[name] = factory
    return factory


def registered() -> dict[str, DetectorFactory]:
    """name → factory for every registered detector (the built-in feature families included)."""
    _load_builtin()
    return dict(sorted(_REGISTRY.items()))


def create(name: str) -> AccountDetector:
    _load_builtin()
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise KeyError(f"no detector registered as {name!r}; known: {sorted(_REGISTRY)}") from None


def _load_builtin() -> None:
    from detectors.features import BehaviourFeatures, CoverageFeatures, EndUserFeatures, InfrastructureFeatures

    register("features.behaviour", BehaviourFeatures)
    register("features.coverage", CoverageFeatures)
    register("features.end_users", EndUserFeatures)
    register("features.infrastructure", InfrastructureFeatures)
