"""One seed for everything random in a run: ``random``, NumPy, and torch when importable."""

from __future__ import annotations

import importlib.util
import random
import sys
from functools import lru_cache

from loopml.errors import InvalidInput

MAX_SEED = 2**32 - 1


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidInput(f"seed must be an integer between 0 and {MAX_SEED}, not {seed!r}.")
    return seed


def seed_everything(seed: int) -> list[str]:
    """Seed the global generators; returns the names of the libraries seeded."""
    seed = check_seed(seed)
    random.seed(seed)
    seeded = ["random"]
    import numpy as np

    np.random.seed(seed)
    seeded.append("numpy")
    if "torch" in sys.modules or _torch_installed():
        import torch

        torch.manual_seed(seed)
        seeded.append("torch")
    return seeded


@lru_cache(maxsize=1)
def _torch_installed() -> bool:
    """Looked up once: pipelines seed every step, and the search costs ~0.4 ms."""
    return importlib.util.find_spec("torch") is not None
