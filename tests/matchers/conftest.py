"""Generated catalogs and disguised clips for the matcher tests (deterministic, no downloads)."""

import numpy as np
import pytest
import soxr

from fixtures.music import synthesize
from matchers.config import DEFAULT
from matchers.fingerprint import fingerprint_samples
from matchers.index import FingerprintIndex
from matchers.match import Matcher

SR = DEFAULT.sample_rate
CATALOG_SEEDS = [11, 12, 13, 14, 15, 16]
SONG_S = 40.0


def song(seed: int, seconds: float = SONG_S) -> np.ndarray:
    """A generated song at the analysis rate."""
    return soxr.resample(synthesize(seed, seconds), 22050, SR).astype(np.float32)


@pytest.fixture(scope="session")
def catalog_songs():
    return {f"w{seed}": song(seed) for seed in CATALOG_SEEDS}


@pytest.fixture(scope="session")
def catalog_index(tmp_path_factory, catalog_songs):
    path = tmp_path_factory.mktemp("index")
    index = FingerprintIndex.open(path, DEFAULT, create=True)
    index.add([fingerprint_samples(wid, y, DEFAULT) for wid, y in catalog_songs.items()])
    return FingerprintIndex.open(path)


@pytest.fixture(scope="session")
def matcher(catalog_index):
    return Matcher(catalog_index)
