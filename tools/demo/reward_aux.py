"""Training-time auxiliary targets of the reward models (train.py --aux-words, --aux-match):
read-outs that are trained beside the score head and never saved, so the checkpoint stays the
daemon's LLaVA-RLHF reward model (a linear `score` on the last position's hidden state)."""

from __future__ import annotations

import train as T


def word_targets(tok, pairs):
    """Multi-hot [2 * pairs, 2 * (vocab + 1)] targets of --aux-words, in rm_scores' order: the
    pieces of the true fact's words, then of the shown response's own differing words."""
    import re

    import torch

    words = lambda t: set(re.findall(r"[a-z]+", t.lower()))  # noqa: E731
    size = tok.vocab + 1
    out = torch.zeros(2 * len(pairs), 2 * size)
    for i, p in enumerate(pairs):
        w = {k: words(p[f"response_{k}"]) for k in (1, 2)}
        true = w[p["preferred"]] - w[3 - p["preferred"]]
        for k in (1, 2):
            row = 2 * i + k - 1
            for word in true:
                out[row, tok.sp.encode(word)] = 1.0
            for word in w[k] - w[3 - k]:
                out[row, [size + j for j in tok.sp.encode(word)]] = 1.0
    return out


def match_targets(tok, n_img, pairs):
    """--aux-match: (rows, positions, labels) of every caption token of each sequence in
    rm_scores' order (the suffix after </s> is tokenized alone, so its positions count from
    the end); label 1 when the response has that word piece (alphabetic, >= 3 letters)."""
    import torch

    head = len(tok.sp_nd.encode(T.EVAL_HEAD + " " + T.FACTUAL_INTRO))
    tail = len(tok.sp_nd.encode(T.EVAL_TAIL))
    rows, cols, labels = [], [], []
    for i, p in enumerate(pairs):
        suffix = tok.sp_nd.encode(T.eval_prompt(p["captions"]))
        for k in (1, 2):
            row = 2 * i + k - 1
            text = T.render(T.SYSTEM_VICUNA, p["question"]) + " " + p[f"response_{k}"] + "</s>"
            start = len(tok.encode(text, n_img))
            said = set(tok.encode(p[f"response_{k}"], 0))
            for j in range(head, len(suffix) - tail):
                piece = tok.sp.id_to_piece(suffix[j]).lstrip("\u2581")
                if piece.isalpha() and len(piece) >= 3:
                    rows.append(row)
                    cols.append(start + j)
                    labels.append(float(suffix[j] in said))
    return torch.tensor(rows), torch.tensor(cols), torch.tensor(labels)
