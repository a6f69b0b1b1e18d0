"""quantize_for_cpu: an int8 copy for CPU inference that leaves the original alone and answers nearly alike."""
import torch
from test_training import tiny_bert

import torchnlp


def test_quantize_for_cpu_makes_an_int8_copy_and_keeps_the_original(ag_news, tokenizer):
    model = tiny_bert().eval()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    quantized = torchnlp.quantize_for_cpu(model)

    assert not any(type(m) is torch.nn.Linear for m in quantized.modules()), "a Linear layer stayed fp32"
    assert all(torch.equal(before[name], p) for name, p in model.named_parameters()), "the original changed"
    assert any(type(m) is torch.nn.Linear for m in model.modules())

    features = torchnlp.encode_for_bert(ag_news[1][:32], tokenizer, max_length=32)
    collate = torchnlp.PaddingCollator(tokenizer.pad_token_id)
    fp32 = torchnlp.predict(model, features, collate)
    int8 = torchnlp.predict(quantized, features, collate)
    assert int8.shape == fp32.shape == (32, 4)
    torch.testing.assert_close(int8.sum(-1), torch.ones(32))
    assert (int8 - fp32).abs().max() < 0.05  # int8 rounding moves probabilities a little, not a lot
