"""Research probe (not the daemon's prompt): the captions in the user turn BEFORE the response,
the evaluation prompt without them. Same trainer otherwise.

Run from the repository root (models/README.md, w6/w7):

    .build-demo/venv/bin/python tools/demo/probes/captions_first.py --policy-dir .build-demo/pol3/policy \
        --out .build-demo/w6 --stages reward --reward-init .build-demo/rm6B/reward --swap-images 1.0 \
        --tail-tokens 64 --eval-every 150 --reward-steps 2400 --threads 1  (train.py's flags)
"""
import sys
sys.path.insert(0, "tools/demo"); sys.path.insert(0, "tools/world")
import train as T

def rm_text(p, response, captions):
    q = p["question"]
    if captions:
        q = "Captions:\n" + "".join(f"  - {c}\n" for c in captions) + q
    return T.render(T.SYSTEM_VICUNA, q) + " " + response + "</s>" + T.eval_prompt([])

T.rm_text = rm_text
T.main()
