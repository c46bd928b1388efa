"""Generated catalogs and disguised clips for the matcher tests (deterministic, no downloads)."""

import pytest

from matchers.config import DEFAULT
from matchers.fingerprint import fingerprint_samples
from matchers.index import FingerprintIndex
from matchers.match import Matcher
from tests.matchers.generated import song

CATALOG_SEEDS = [11, 12, 13, 14, 15, 16]


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
