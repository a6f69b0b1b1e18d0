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


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, tokenizer):
    """A small BERT encoder (128 positions) without a classification head, like the real checkpoint, saved as a
    folder with the course's tokenizer: for tests that run finetune.py."""
    import torch
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    BertModel(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                         max_position_embeddings=128)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
