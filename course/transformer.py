"""The attention that notebooks 01 and 02a build, kept here so that later notebooks can reuse it.

Notebook 02a writes ``attention`` and ``MultiHeadAttention`` cell by cell and checks them against PyTorch;
notebook 02b imports ``MultiHeadAttention`` from here (through ``torchnlp``) to build its encoder layer, so it
runs on its own.
tests/test_attention.py keeps the notebook's cells and these definitions the same code.
"""
import math

import torch
from torch import nn


def masked_softmax(scores, mask, dim=-1):
    """Softmax of ``scores`` over ``dim`` where ``mask`` is True; masked positions get exactly 0.

    A row with no valid position is all zeros, not NaN (a naive ``masked_fill(-inf)`` gives 0/0 there).
    """
    mask = mask.to(torch.bool).expand_as(scores)
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=dim)
    return weights.masked_fill(~mask, 0.0)


def positional_encoding(max_len, d_model, base=10000.0):
    """Sinusoidal encodings of Vaswani et al. (2017): ``PE[pos, 2i] = sin(pos / base^(2i/d))``, cos for 2i+1."""
    if d_model % 2:
        raise ValueError(f"d_model must be even for sinusoidal encodings, got {d_model}")
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(base) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(position * frequency)
    pe[:, 1::2] = torch.cos(position * frequency)
    return pe


def attention(q, k, v, mask=None):
    """q: (..., T, d), k and v: (..., S, d), mask: broadcastable to (..., T, S), True = may attend."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    weights = torch.softmax(scores, -1) if mask is None else masked_softmax(scores, mask)
    return weights @ v, weights


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads):
        super().__init__()
        assert d_model % num_heads == 0
        self.num_heads, self.d_head = num_heads, d_model // num_heads
        self.W_q, self.W_k, self.W_v, self.W_o = (nn.Linear(d_model, d_model) for _ in range(4))

    def split(self, x):  # (batch, length, d_model) -> (batch, heads, length, d_head)
        return x.view(x.shape[0], x.shape[1], self.num_heads, self.d_head).transpose(1, 2)

    def forward(self, x, key_padding_mask=None):
        """x: (batch, length, d_model); key_padding_mask: (batch, length), True = a real token."""
        mask = None if key_padding_mask is None else key_padding_mask[:, None, None, :]
        out, weights = attention(self.split(self.W_q(x)), self.split(self.W_k(x)), self.split(self.W_v(x)), mask)
        out = out.transpose(1, 2).reshape(x.shape)  # concatenate the heads
        return self.W_o(out), weights               # weights: (batch, heads, length, length)
