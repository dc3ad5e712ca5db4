"""A rule-based MMHal-Bench judge that knows the ground truth.

MMHal-Bench (research/rlhf-spec.md §5) has GPT-4 rate each answer 0-6:

    6 very informative with good reasoning, no hallucination   2 very informative, with hallucination
    5 very informative, no hallucination                       1 somewhat informative, with hallucination
    4 somewhat informative, no hallucination                   0 not informative, with hallucination
    3 not informative, no hallucination

and the hallucination rate is the share of ratings below 3. Here the world's scene replaces the
image labels and the judge replaces GPT-4: it parses the answer into *claims* over the world's
closed vocabulary and checks each against the scene:

- mentions: "two small blue squares" (a count), "a red circle" (existence), "no triangle" (absence);
- predicates: "the circle is red", "the red object is a circle", "the circle is not large";
- positions: "... at the top left"; relations: "A is to the left of B", "A above B";
- comparisons: "A is bigger than B"; settings: "beach", "snowy", "indoors", ...

Any false claim is a hallucination. Separately, a *key check* per question kind decides whether
the answer gives the asked-for information (the colour asked about, the right count, "there is
no ..." for an absent object). Rating: no hallucination -> 6 (key + at least one more verified
detail), 5 (key), 4 (some verified information), 3 (none); hallucination -> 2 (key right
anyway), 1 (some verified information), 0 (none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Set, Tuple

from .language import NUMBER_WORDS
from .scene import COLOURS, PLURAL, SETTINGS, SHAPES, Obj, Scene, relations, resolve

SHAPE_OF = {s: s for s in SHAPES} | {p: s for s, p in PLURAL.items()}
GENERIC = {"object", "objects", "shape", "shapes", "thing", "things", "item", "items"}
SIZE_OF = {"small": "small", "little": "small", "tiny": "small", "large": "large",
           "big": "large", "huge": "large"}
NUMBER_OF = {w: i for i, w in enumerate(NUMBER_WORDS)} | {str(i): i for i in range(10)}
NEGATIONS = {"no", "not", "never", "without", "cannot", "isn't", "aren't", "don't", "doesn't",
             "can't", "nothing", "none"}
UNSURE = ("don't know", "not sure", "cannot tell", "can't tell", "unable to", "cannot determine",
          "can't determine")
DETERMINERS = {"a", "an", "the", "any", "some", "all", "both", "another", "other", "each"}
BOUNDARIES = {".", ",", ";", ":", "!", "?", "but"}
SETTING_OF = {kw: name for name, (_, kws) in SETTINGS.items() for kw in kws}
POSITION_WORDS = {"top", "bottom", "middle", "centre", "center", "left", "right"}
COMPARATIVES = {"bigger": "large", "larger": "large", "smaller": "small"}
TOKEN = re.compile(r"[a-z]+'[a-z]+|[a-z]+|\d+|[.,;:!?]")


@dataclass
class Mention:
    """A noun phrase naming objects: its attributes, count and polarity."""

    start: int
    end: int  # index of the noun
    shape: Optional[str]
    colour: Optional[str] = None
    size: Optional[str] = None
    count: Optional[int] = None
    negated: bool = False
    clause: int = 0

    def attrs(self) -> dict:
        return {"shape": self.shape, "colour": self.colour, "size": self.size}

    def specific(self) -> bool:
        return bool(self.shape or self.colour or self.size or self.count is not None)


@dataclass
class Claim:
    """One checked statement: what it says (for reports) and whether the scene supports it."""

    text: str
    ok: bool
    trivial: bool = False  # bare existence ("a circle"): not counted as extra detail


@dataclass
class Verdict:
    """The judge's result for one answer."""

    score: int
    hallucinated: bool
    key: str  # "right", "wrong" or "missing"
    claims: List[Claim] = field(default_factory=list)

    def reasons(self) -> List[str]:
        """The false claims, and "wrong answer" when the asked information is wrong."""
        out = [c.text for c in self.claims if not c.ok]
        return out + (["wrong answer to the question"] if self.key == "wrong" else [])


def tokenize(text: str) -> List[str]:
    return TOKEN.findall(text.lower().replace("’", "'"))


def _clauses(tokens: Sequence[str]) -> List[int]:
    out, c = [], 0
    for t in tokens:
        if t in BOUNDARIES:
            c += 1
        out.append(c)
    return out


def mentions(tokens: Sequence[str]) -> List[Mention]:
    """Noun phrases ending in a shape or generic noun, with their modifiers and polarity."""
    clauses = _clauses(tokens)
    out = []
    for i, t in enumerate(tokens):
        if t not in SHAPE_OF and t not in GENERIC:
            continue
        m = Mention(i, i, SHAPE_OF.get(t), clause=clauses[i])
        j = i - 1
        while j >= 0:
            w = tokens[j]
            if w in COLOURS and m.colour is None:
                m.colour = w
            elif w in SIZE_OF and m.size is None:
                m.size = SIZE_OF[w]
            elif w in NUMBER_OF and m.count is None and w != "no":
                m.count = NUMBER_OF[w]
            elif w == "no":
                m.negated = True
                m.start = j
                break
            elif w in DETERMINERS or w == "and" and False:
                pass
            else:
                break
            m.start = j
            j -= 1
        # Negation earlier in the same clause: "there is not a circle", "I don't see a circle".
        k = m.start - 1
        while k >= 0 and clauses[k] == m.clause:
            if tokens[k] in NEGATIONS:
                m.negated = True
                break
            if tokens[k] in SHAPE_OF or tokens[k] in GENERIC:
                break  # "the circle is not red; ..." belongs to the earlier mention
            k -= 1
        if m.count == 0:
            m.negated, m.count = True, None
        out.append(m)
    return out


def _matches(scene: Scene, attrs: dict) -> List[Obj]:
    return scene.matching(**attrs)


def _describe(attrs: dict) -> str:
    return " ".join(v for v in (attrs.get("size"), attrs.get("colour"), attrs.get("shape")) if v) \
        or "object"


def _cells(words: Sequence[str]) -> Set[Tuple[int, int]]:
    """Grid cells a position phrase allows ("top left" -> {(0,0)}, "left" -> column 0)."""
    rows, cols = {0, 1, 2}, {0, 1, 2}
    ws = ["middle" if w in ("centre", "center") else w for w in words]
    if "top" in ws:
        rows = {0}
    if "bottom" in ws:
        rows = {2}
    if "left" in ws:
        cols = {0}
    if "right" in ws:
        cols = {2}
    if ws == ["middle"]:
        rows, cols = {1}, {1}
    return {(r, c) for r in rows for c in cols}


def _relation_at(tokens: Sequence[str], i: int) -> Optional[Tuple[str, int]]:
    """A relation phrase starting at token i: (relation, index after it) or None."""
    t = tokens[i:i + 4]
    if t[:4] in (["to", "the", "left", "of"], ["to", "the", "right", "of"]):
        return (t[2] + " of", i + 4)
    if t[:2] in (["left", "of"], ["right", "of"]):
        return (t[0] + " of", i + 2)
    if t[:1] in (["above"], ["below"]):
        return (t[0], i + 1)
    return None


def claims(scene: Scene, text: str) -> List[Claim]:
    """Every checkable claim in `text`, each verified against `scene`."""
    tokens = tokenize(text)
    ms = mentions(tokens)
    out: List[Claim] = []
    by_end = {m.end: m for m in ms}
    for idx, m in enumerate(ms):
        attrs = m.attrs()
        if not m.specific():
            continue
        found = _matches(scene, attrs)
        name = _describe(attrs)
        if m.negated:
            out.append(Claim(f"no {name}", not found))
            continue
        if m.count is not None:
            out.append(Claim(f"{m.count} x {name}", len(found) == m.count))
        else:
            out.append(Claim(f"a {name}", bool(found), trivial=True))
        # What follows the noun: "is/are [not] (adjectives | a shape)", then a position.
        j = m.end + 1
        if j < len(tokens) and tokens[j] in ("is", "are"):
            j += 1
            neg = False
            if j < len(tokens) and tokens[j] == "not":
                neg, j = True, j + 1
            while j < len(tokens) and tokens[j] in ("both", "all"):
                j += 1
            pred: Dict[str, str] = {}
            k = j
            while k < len(tokens) and (tokens[k] in COLOURS or tokens[k] in SIZE_OF
                                       or tokens[k] in ("a", "an", "and")):
                if tokens[k] in COLOURS:
                    pred["colour"] = tokens[k]
                elif tokens[k] in SIZE_OF:
                    pred["size"] = SIZE_OF[tokens[k]]
                k += 1
            if k < len(tokens) and tokens[k] in SHAPE_OF and k in by_end:
                pred["shape"] = SHAPE_OF[tokens[k]]
            elif k < len(tokens) and (tokens[k] in SHAPE_OF or tokens[k] in GENERIC):
                pred = {}
            if pred:
                merged = dict(attrs, **pred)
                if neg:
                    ok = any(not all(getattr(o, a) == v for a, v in pred.items())
                             for o in found) or not found
                    out.append(Claim(f"{name} is not {_describe(pred)}", ok))
                else:
                    out.append(Claim(f"{name} is {_describe(pred)}",
                                     bool(_matches(scene, merged))))
                j = k + (1 if "shape" in pred else 0)
        # Position: "at / in / on the <top|left|...>" right after the phrase.
        if j + 2 < len(tokens) + 1 and j < len(tokens) and tokens[j] in ("at", "in", "on") \
                and j + 1 < len(tokens) and tokens[j + 1] == "the":
            k = j + 2
            words = []
            while k < len(tokens) and tokens[k] in POSITION_WORDS:
                words.append(tokens[k])
                k += 1
            if words:
                cells = _cells(words)
                ok = any((o.row, o.col) in cells for o in found)
                out.append(Claim(f"{name} at the {' '.join(words)}", ok))
                j = k
        # Relation: "[is] (to the left of | above | ...) <mention>".
        if j < len(tokens) and tokens[j] in ("is", "are"):
            j += 1
        rel = _relation_at(tokens, j) if j < len(tokens) else None
        if rel and idx + 1 < len(ms) and ms[idx + 1].clause == m.clause:
            other = ms[idx + 1]
            bs = _matches(scene, other.attrs())
            ok = any(rel[0] in relations(a, b) for a in found for b in bs if a is not b)
            out.append(Claim(f"{name} {rel[0]} {_describe(other.attrs())}", ok))
        # Comparison: "is bigger / smaller than <mention>".
        if j < len(tokens) and tokens[j] in COMPARATIVES and j + 1 < len(tokens) \
                and tokens[j + 1] == "than" and idx + 1 < len(ms):
            other = ms[idx + 1]
            bs = _matches(scene, other.attrs())
            want = COMPARATIVES[tokens[j]]
            ok = any(a.size == want and b.size != want for a in found for b in bs)
            out.append(Claim(f"{name} {tokens[j]} than {_describe(other.attrs())}", ok))
    # Settings and indoors / outdoors.
    for t in tokens:
        if t in SETTING_OF:
            out.append(Claim(f"setting {SETTINGS[SETTING_OF[t]][0]}", SETTING_OF[t] == scene.setting))
        elif t in ("indoors", "outdoors", "inside", "outside"):
            indoor = t in ("indoors", "inside")
            out.append(Claim(t, indoor == (scene.setting == "room")))
    return out


# --- key checks per question kind -----------------------------------------------------------
def _words(tokens: Sequence[str], vocab) -> List[str]:
    return [t for t in tokens if t in vocab]


def _key(spec: dict, scene: Scene, text: str, tokens: List[str], cl: List[Claim]) -> str:
    kind = spec["kind"]
    if kind == "attribute":
        if spec["attr"] == "shape":
            truth = scene.matching(colour=spec["colour"])[0].shape
            said = {SHAPE_OF[t] for t in tokens if t in SHAPE_OF}
        else:
            o = resolve(scene, spec["ref"])[0]
            truth = getattr(o, spec["attr"])
            vocab = COLOURS if spec["attr"] == "colour" else SIZE_OF
            said = {SIZE_OF.get(t, t) for t in _words(tokens, vocab)}
        return "right" if truth in said else ("wrong" if said else "missing")
    if kind in ("adversarial", "where") and not resolve(scene, spec["ref"]):
        target = resolve_attrs(spec["ref"])
        denied = any(m.negated and m.shape == target["shape"] for m in mentions(tokens))
        if denied or "no such" in text.lower():
            return "right"
        # No denial: it is a hallucination if the answer describes the absent object (names
        # it, or gives the asked colour / size / place), otherwise merely uninformative.
        vocab = {"colour": COLOURS, "size": SIZE_OF}.get(spec.get("ask"), POSITION_WORDS)
        named = any(not m.negated and m.shape == target["shape"] for m in mentions(tokens))
        return "wrong" if named or _words(tokens, vocab) else "missing"
    if kind == "where":
        o = resolve(scene, spec["ref"])[0]
        words = _words(tokens, POSITION_WORDS)
        if not words:
            return "missing"
        return "right" if (o.row, o.col) in _cells(words) else "wrong"
    if kind == "count":
        n = scene.count(shape=spec.get("shape"), colour=spec.get("colour"))
        nums = [NUMBER_OF[t] for t in tokens if t in NUMBER_OF and t != "no"]
        if not nums:
            return "wrong" if any(m.negated for m in mentions(tokens)) else "missing"
        return "right" if nums[0] == n else "wrong"
    if kind == "bigger":
        a, b = resolve(scene, spec["a"])[0], resolve(scene, spec["b"])[0]
        if "same" in tokens and "size" in tokens:
            return "right" if a.size == b.size else "wrong"
        comps = [i for i, t in enumerate(tokens) if t in COMPARATIVES]
        if not comps:
            return "missing"
        i = comps[0]
        before = [m for m in mentions(tokens) if m.end < i]
        if not before:
            return "missing"
        subj = before[-1]
        big = a if a.size == "large" else b
        small = b if big is a else a
        want = big if COMPARATIVES[tokens[i]] == "large" else small
        subj_is = scene.matching(**subj.attrs())
        return "right" if want in subj_is and not (
            (small if want is big else big) in subj_is) else "wrong"
    if kind == "same_colour":
        a, b = resolve(scene, spec["a"])[0], resolve(scene, spec["b"])[0]
        if tokens[:1] == ["yes"] or "both" in tokens or ("same" in tokens and "not" not in tokens):
            said = True
        elif tokens[:1] == ["no"] or "different" in tokens or "not" in tokens:
            said = False
        else:
            return "missing"
        return "right" if said == (a.colour == b.colour) else "wrong"
    if kind == "more":
        n1, n2 = scene.count(shape=spec["s1"]), scene.count(shape=spec["s2"])
        if "more" in tokens:
            i = tokens.index("more")
            nxt = [SHAPE_OF[t] for t in tokens[i + 1:] if t in SHAPE_OF]
            if not nxt:
                return "missing"
            if nxt[0] not in (spec["s1"], spec["s2"]):
                return "wrong"
            return "right" if (nxt[0] == spec["s1"]) == (n1 > n2) and n1 != n2 else "wrong"
        if "fewer" in tokens or "less" in tokens:
            i = tokens.index("fewer" if "fewer" in tokens else "less")
            nxt = [SHAPE_OF[t] for t in tokens[i + 1:] if t in SHAPE_OF]
            if not nxt:
                return "missing"
            if nxt[0] not in (spec["s1"], spec["s2"]):
                return "wrong"
            return "right" if (nxt[0] == spec["s1"]) == (n1 < n2) and n1 != n2 else "wrong"
        if "many" in tokens or "same" in tokens:
            return "right" if n1 == n2 else "wrong"
        return "missing"
    if kind == "relation":
        a, b = resolve(scene, spec["a"])[0], resolve(scene, spec["b"])[0]
        truth = set(relations(a, b))
        said = set()
        for i in range(len(tokens)):
            r = _relation_at(tokens, i)
            if r:
                said.add(r[0])
        if not said:
            words = _words(tokens, {"left", "right", "above", "below"})
            said = {w + " of" if w in ("left", "right") else w for w in words}
        if not said:
            return "missing"
        return "right" if said <= truth else "wrong"
    if kind == "setting":
        if spec.get("ask") == "indoors":
            ws = _words(tokens, {"indoors", "outdoors", "inside", "outside"})
            if not ws:
                return "missing"
            return "right" if (ws[0] in ("indoors", "inside")) == (scene.setting == "room") \
                else "wrong"
        said = {SETTING_OF[t] for t in tokens if t in SETTING_OF}
        if not said:
            return "missing"
        return "right" if said == {scene.setting} else "wrong"
    if kind == "describe":
        cov = _coverage(scene, tokens)
        return "right" if cov >= 0.5 else ("partial" if cov > 0 else "missing")
    if kind == "colours":
        truth = {o.colour for o in scene.objects}
        said = set(_words(tokens, COLOURS))
        if not said:
            return "missing"
        if said - truth:
            return "wrong"
        return "right" if said == truth else "partial"
    if kind == "mc":
        return "missing"
    if kind == "yesno":
        return "missing"
    raise ValueError(kind)


def resolve_attrs(ref: str) -> dict:
    words = ref.split()
    return {"shape": words[-1], "colour": next((w for w in words if w in COLOURS), None)}


def _coverage(scene: Scene, tokens: List[str]) -> float:
    """Share of the scene's objects named (colour and shape) by positive mentions."""
    left = list(scene.objects)
    named = 0
    for m in mentions(tokens):
        if m.negated or not m.shape or not m.colour:
            continue
        for _ in range(m.count or 1):
            hit = next((o for o in left if o.shape == m.shape and o.colour == m.colour
                        and (m.size is None or o.size == m.size)), None)
            if hit is None:
                break
            left.remove(hit)
            named += 1
    return named / len(scene.objects)


def judge(question: dict, scene: Scene, answer: str) -> Verdict:
    """Rates `answer` to `question` (an item from ``questions.make_question``) about `scene`."""
    text = answer.strip()
    tokens = tokenize(text)
    if not tokens or any(u in text.lower() for u in UNSURE):
        return Verdict(3, False, "missing")
    cl = claims(scene, text)
    key = _key(question["spec"], scene, text, tokens, cl)
    hallucinated = key == "wrong" or any(not c.ok for c in cl)
    verified = [c for c in cl if c.ok and not c.trivial]
    informative = key in ("right", "partial") or bool(verified)
    if question["spec"]["kind"] == "describe":
        cov = _coverage(scene, tokens)
        setting_ok = any(c.ok and c.text.startswith("setting") for c in cl)
        full = cov == 1.0 and setting_ok
    else:
        full = key == "right" and len(verified) >= 2
    if hallucinated:
        score = 2 if key == "right" else (1 if informative else 0)
    elif key == "right":
        score = 6 if full else 5
    else:
        score = 4 if informative else 3
    return Verdict(score, hallucinated, key, cl)
