"""A small word-level text encoder over a fixed vocabulary, trained with the model.

Prompts -> token ids [P, L] (0 = padding, 1 = unknown word) -> context [P, L, D].
The empty prompt (all padding) is the null condition used by guidance.
"""
from __future__ import annotations

import re

import torch
from torch import nn

PAD, UNK = 0, 1
_WORD = re.compile(r"[a-z0-9]+")


def words(prompt: str) -> list[str]:
    """Lower-case words of a prompt; punctuation separates words and is dropped."""
    return _WORD.findall(prompt.lower())


class Tokenizer:
    """Maps words to ids; ``unknown(prompt)`` lists the words it does not know."""

    def __init__(self, vocab: tuple[str, ...], length: int):
        self.vocab = tuple(vocab)
        self.length = length
        self._ids = {w: i + 2 for i, w in enumerate(self.vocab)}

    def unknown(self, prompt: str) -> list[str]:
        return [w for w in words(prompt) if w not in self._ids]

    def __call__(self, prompts: list[str]) -> torch.Tensor:
        """Token ids [P, length], truncated or padded."""
        ids = torch.full((len(prompts), self.length), PAD, dtype=torch.long)
        for row, prompt in enumerate(prompts):
            tokens = [self._ids.get(w, UNK) for w in words(prompt)][: self.length]
            ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        return ids


class TextEncoder(nn.Module):
    """Token embedding + learned positions + a few transformer layers: ids [P, L] -> [P, L, dim]."""

    def __init__(self, vocab_size: int, length: int, dim: int, depth: int, heads: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size + 2, dim)
        self.position = nn.Parameter(torch.zeros(1, length, dim))
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, batch_first=True, norm_first=True)
            for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        nn.init.normal_(self.position, std=0.02)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids) + self.position[:, : ids.shape[1]]
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)
