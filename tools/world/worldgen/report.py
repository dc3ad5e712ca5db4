"""Bench results: the per-type table (Markdown) and a bar chart (PNG, drawn with Pillow).

MMHal-Bench's summary (research/rlhf-spec.md §5): overall score = mean rating (0-6),
hallucination rate = share of ratings below 3, and per-type mean ratings.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

from PIL import Image, ImageDraw, ImageFont

from .questions import TYPES


def summarise(results: Sequence[dict]) -> Dict[str, dict]:
    """type -> {n, score (mean rating), hallucination (rate)}, plus "overall"."""
    rows: Dict[str, dict] = {}
    for t in list(TYPES) + ["overall"]:
        rs = [r for r in results if t == "overall" or r["question_type"] == t]
        if not rs:
            continue
        rows[t] = {"n": len(rs), "score": sum(r["score"] for r in rs) / len(rs),
                   "hallucination": sum(r["score"] < 3 for r in rs) / len(rs)}
    return rows


def table(summary: Dict[str, dict], title: str = "") -> str:
    """A Markdown table of the summary."""
    lines = [f"**{title}**", ""] if title else []
    lines += ["| type | n | score (0-6) | hallucination rate |", "|---|---:|---:|---:|"]
    for t, s in summary.items():
        name = f"**{t}**" if t == "overall" else t
        lines.append(f"| {name} | {s['n']} | {s['score']:.2f} | {s['hallucination']:.2f} |")
    return "\n".join(lines) + "\n"


def chart(runs: Dict[str, Dict[str, dict]], path: str, title: str = "Mini MMHal-Bench") -> None:
    """Grouped bars per question type: mean score (left panel) and hallucination rate (right),
    one colour per run (e.g. SFT policy vs RLHF policy)."""
    palette = [(66, 110, 200), (220, 110, 40), (60, 160, 90), (150, 70, 170)]
    names = list(runs)
    types = [t for t in list(TYPES) + ["overall"] if any(t in r for r in runs.values())]
    w, h, pad, top = 1100, 460, 50, 60
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    d.text((pad, 15), title, fill="black", font=font)
    for k, name in enumerate(names):
        x = w - 260 + 0 * k
        y = 12 + 14 * k
        d.rectangle([x, y, x + 10, y + 10], fill=palette[k % len(palette)])
        d.text((x + 16, y - 1), name, fill="black", font=font)
    panels = [("score", "mean score (0-6)", 6.0), ("hallucination", "hallucination rate", 1.0)]
    pw = (w - 3 * pad) // 2
    for p, (field, label, vmax) in enumerate(panels):
        x0, y0, y1 = pad + p * (pw + pad), top, h - 70
        d.text((x0, y0 - 16), label, fill="black", font=font)
        d.line([x0, y1, x0 + pw, y1], fill="black")
        for g in range(5):
            v = vmax * g / 4
            y = y1 - (y1 - y0) * g / 4
            d.line([x0, y, x0 + pw, y], fill=(225, 225, 225))
            d.text((x0 - 30, y - 6), f"{v:.1f}" if vmax > 1 else f"{v:.2f}", fill="gray", font=font)
        gw = pw / len(types)
        bw = (gw - 8) / max(1, len(names))
        for i, t in enumerate(types):
            for k, name in enumerate(names):
                s = runs[name].get(t)
                if not s:
                    continue
                v = s[field]
                bx = x0 + i * gw + 4 + k * bw
                by = y1 - (y1 - y0) * min(v, vmax) / vmax
                d.rectangle([bx, by, bx + bw - 1, y1], fill=palette[k % len(palette)])
            d.text((x0 + i * gw + 2, y1 + 6 + 12 * (i % 2)), t[:11], fill="black", font=font)
    img.save(path)
