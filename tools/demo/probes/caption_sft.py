"""Research probe: SFT the policy on "captions + question -> answer" (the captions in the user
turn, shuffled; half the examples shown another scene's image), a dense signal for reading
captions, before the pairwise reward training.

Run from the repository root (models/README.md, w6/w7):

    .build-demo/venv/bin/python tools/demo/probes/caption_sft.py .build-demo/w7 500   (OUT STEPS)
"""
import argparse, json, random, sys
from pathlib import Path
sys.path.insert(0, "tools/demo"); sys.path.insert(0, "tools/world")
import torch
import train as T
from worldgen.dataset import read_jsonl

data = Path(".build-world/data")
init = Path(".build-demo/pol3/policy")
out = Path(sys.argv[1]); steps = int(sys.argv[2])
torch.set_num_threads(1)
caps = json.loads((data / "image_to_caption.json").read_text())
rng = random.Random(5)
qs = [q for q in read_jsonl(data / "train" / "questions.jsonl") if q["form"] == "open"]
images = sorted({q["image"] for q in qs})
items = []
for q in qs:
    c = list(caps[q["image"]]); rng.shuffle(c)
    img = q["image"] if rng.random() < 0.5 else rng.choice(images)
    items.append(dict(q, image=img, question="Captions:\n" + "".join(f"  - {x}\n" for x in c) + q["question"]))
tok_bytes = (init / "tokenizer.model").read_bytes()
tok = T.Tok(tok_bytes)
proc, pixels = T.pixel_cache(data, images, 64)
a = argparse.Namespace(seed=3, policy_init=init, policy_lr=3e-4, policy_steps=steps, batch=16,
                       save_every=0)
log = lambda m: print(m, flush=True)
model = T.train_policy(a, None, tok, 64, pixels, items, log)
T.save_policy(model, out / "policy", tok_bytes, proc, tok.vocab, 640)
log("saved")
