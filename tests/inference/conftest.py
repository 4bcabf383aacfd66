"""Tiny random-weight models of the real architectures, built once per test session."""

from __future__ import annotations

import numpy as np
import pytest

from inference.loading import clear_cache, load_asr, load_medgemma
from inference.tiny import build_tiny_models

RATE = 16000


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    import torch

    # Tiny models gain nothing from threads; on shared cores they lose 10x to contention.
    torch.set_num_threads(1)
    return build_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def asr_engine(tiny_models):
    return load_asr(str(tiny_models["medasr"]), device="cpu")


@pytest.fixture(scope="session")
def medgemma_engine(tiny_models):
    return load_medgemma(str(tiny_models["medgemma"]), device="cpu")


@pytest.fixture
def fresh_cache():
    clear_cache()
    yield
    clear_cache()


def tone(seconds: float, seed: int = 0, level: float = 0.2) -> np.ndarray:
    """Speech-like sound: a modulated tone plus noise, loud enough for the pause detector."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    voiced = np.sin(2 * np.pi * 180 * t) * (1 + 0.6 * np.sin(2 * np.pi * 4 * t))
    return (level * voiced + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def silence(seconds: float, seed: int = 1) -> np.ndarray:
    """Room noise far below the -40 dBFS speech threshold."""
    rng = np.random.default_rng(seed)
    return (0.0005 * rng.standard_normal(int(seconds * RATE))).astype(np.float32)
