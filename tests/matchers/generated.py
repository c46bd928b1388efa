"""Generated songs at the analysis rate, for the matcher tests."""

import numpy as np
import soxr

from fixtures.music import synthesize
from matchers.config import DEFAULT

SR = DEFAULT.sample_rate


def song(seed: int, seconds: float = 40.0) -> np.ndarray:
    """A generated song, mono float32 at the analysis rate."""
    return soxr.resample(synthesize(seed, seconds), 22050, SR).astype(np.float32)
