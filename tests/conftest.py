import os
from pathlib import Path

import pytest

import torchnlp


@pytest.fixture(scope="session")
def ag_news():
    """The provisioned AG News splits (provisioning copies from AG_NEWS_MIRROR when data/ is empty)."""
    return torchnlp.load_dataset(verbose=False)


@pytest.fixture(scope="session")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(torchnlp.ensure_bert()))


@pytest.fixture
def offline_mirror():
    mirror = os.environ.get("AG_NEWS_MIRROR")
    if not mirror:
        pytest.skip("AG_NEWS_MIRROR is not set")
    return Path(mirror)
