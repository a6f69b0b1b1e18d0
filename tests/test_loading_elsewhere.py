"""Notebook 05 and the README say how to load a fine-tuned `mean` checkpoint outside the course's helpers:
`from torchnlp import BertForMeanPooledClassification` and its `from_pretrained(folder)`, no trust_remote_code.
This checks that the named way gives the course's model, and that the library's class would not."""
import torch
from transformers import BertConfig, BertForSequenceClassification

import torchnlp


def test_a_mean_checkpoint_loads_with_the_course_class_and_not_with_the_library_head(tmp_path, ag_news, tokenizer):
    torchnlp.set_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=4)
    model = torchnlp.BertForMeanPooledClassification(config)
    features = torchnlp.encode_for_bert(ag_news[0][:32], tokenizer, max_length=32)
    collate = torchnlp.PaddingCollator(tokenizer.pad_token_id)
    checkpoint_dir = tmp_path / "mean-run"
    torchnlp.fine_tune(model, features, torchnlp.TrainConfig(epochs=1, batch_size=16, save_every=1), collate=collate,
                       tokenizer=tokenizer, checkpoint_dir=checkpoint_dir, progress=False, log=lambda *_: None)
    [folder] = sorted(checkpoint_dir.glob("step-*"))[-1:]

    from torchnlp import BertForMeanPooledClassification  # the import notebook 05 names

    elsewhere = BertForMeanPooledClassification.from_pretrained(folder).eval()  # no trust_remote_code
    course, _, _ = torchnlp.load_fine_tuned(checkpoint_dir)
    batch = collate(features[:8])
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    with torch.no_grad():
        expected = course.eval()(**inputs).logits
        torch.testing.assert_close(elsewhere(**inputs).logits, expected)
        library = BertForSequenceClassification.from_pretrained(folder).eval()  # loads, but reads an untrained pooler
        assert not torch.allclose(library(**inputs).logits, expected, atol=1e-4)
