#!/usr/bin/env python3
"""Reference fixtures for rlhfd's engine tests (tokenizer, images, tiny LLaVA checkpoints, outputs).

Run from the repository root with the reference venv (see tools/reference/README.md):

    .build-ref/venv/bin/python tools/reference/make_fixtures.py            # all stages
    .build-ref/venv/bin/python tools/reference/make_fixtures.py tokenizer images

Stages: tokenizer, images, models, reference, layouts (in this order; later stages read the
files earlier stages wrote). `native` (not run by default) cross-checks the tokenizer and JPEG
fixtures against Debian's libsentencepiece / libjpeg-turbo through tools/reference/check_native.cc. Everything is deterministic (fixed seeds, single-threaded torch, no
network): running the script twice gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "Tests" / "Fixtures"
TOK_DIR = FIX / "tokenizer"
IMG_DIR = FIX / "images"
POLICY_DIR = FIX / "tiny-llava-policy"
REWARD_DIR = FIX / "tiny-llava-reward"
REF_DIR = FIX / "reference"
LAYOUT_DIR = FIX / "layouts"

# --------------------------------------------------------------------------------------------
# Shared conventions
# --------------------------------------------------------------------------------------------

VOCAB_SIZE = 640  # SentencePiece vocab; the `<image>` token is appended as id VOCAB_SIZE.
IMAGE_TOKEN = "<image>"

# Vicuna-v1 system prompt (`conv_vicuna_v1`, used by LLaVA-RLHF's training code, rlhf-spec.md §1).
SYSTEM_VICUNA_V1 = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)
# LLaVA's `conv_llava_v1` system prompt (LLaVA-RLHF eval scripts; "human" instead of "user").
SYSTEM_LLAVA_V1 = (
    "A chat between a curious human and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the human's questions."
)
TEMPLATE = "{system} USER: <image>\n{prompt} ASSISTANT:"
TEMPLATE_NO_SYSTEM = "USER: <image>\n{prompt} ASSISTANT:"  # llava-hf's chat_template (no system)
TEMPLATE_TEXT_ONLY = "{system} USER: {prompt} ASSISTANT:"

OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def render(prompt: str, system: str | None = SYSTEM_VICUNA_V1, image: bool = True) -> str:
    """The LLaVA-1.5 / Vicuna-v1 template, without BOS (the tokenizer adds it)."""
    if not image:
        return TEMPLATE_TEXT_ONLY.format(system=system, prompt=prompt)
    if system is None or system == "":
        return TEMPLATE_NO_SYSTEM.format(prompt=prompt)
    return TEMPLATE.format(system=system, prompt=prompt)


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_json(path: Path, obj) -> None:
    write_bytes(path, (json.dumps(obj, indent=1, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------
# Stage 1: tokenizer
# --------------------------------------------------------------------------------------------

CORPUS = """\
A photo of a red bus parked next to a tall brick building.
Two dogs are playing with a yellow ball on the green grass.
The image shows a kitchen with a white refrigerator, a wooden table and four chairs.
A man in a blue shirt is riding a bicycle down a busy street.
There is a cat sleeping on a sofa near the window.
A plate of food with rice, vegetables and a piece of grilled chicken.
Three people are standing on a beach, looking at the ocean at sunset.
A small boat floats on a calm lake surrounded by mountains.
The sign on the wall says "No parking" in large black letters.
A child holds an umbrella while walking in the rain.
What is in the image? The image contains a clock tower and a bridge.
How many people are in the picture? There are 2 people in the picture.
What color is the car? The car is red.
Is there a dog in the image? Yes, there is a brown dog lying on the floor.
Is the man wearing a hat? No, he is not wearing a hat.
Describe the scene in detail.
The scene shows a busy market with many stalls selling fruit, bread and flowers.
In the background, you can see a train station and several taxis.
The weather looks sunny, and the sky is clear and blue.
A woman is sitting at a desk, typing on a laptop computer.
The room has a large bookshelf, a lamp and a green plant in the corner.
Please evaluate the quality of your last response.
There are several dimensions you should consider in your evaluation:
1. Accurate: The AI should provide factual and accurate information from the image.
2. Helpful: The AI should directly address the user's question.
3. Language Natural: The AI should use natural language, without repetition.
4. Concise: The AI should be brief and clear.
A good response should be accurate, helpful, language natural, and concise.
Following your definitions, the quality score of my last response is
A chat between a curious user and an artificial intelligence assistant.
The assistant gives helpful, detailed, and polite answers to the user's questions.
A chat between a curious human and an artificial intelligence assistant.
The assistant gives helpful, detailed, and polite answers to the human's questions.
USER: What is in the image? ASSISTANT: A red bus and a tall building.
USER: How many cats are there? ASSISTANT: There are 3 cats.
The train leaves at 10:45 and arrives at 12:30, platform 7.
The price is $19.99, or 25% off the original price of $26.65.
In 2023, about 1,234,567 photos were taken in the city.
Call 555-0123 between 9am and 5pm; ask for room 42.
The image is 640x480 pixels, and the file is 128 KB.
We ordered a café au lait and a croissant at the small café.
It was a naïve question, but the answer was interesting.
The résumé mentions a coöperative in Zürich and a façade in Paris.
Tokyo is called 東京 in Japanese, and Kyoto is 京都.
The menu said 寿司 and ラーメン, with prices in ¥.
A sign read: Straße — closed until further notice.
She said: "Look at the birds!" and pointed at the sky.
Wait... is that a plane, a bird, or a kite?
The list (apples, pears, plums) was written on a card.
Use the path /home/user/images/photo_01.png for the file.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12 100 2024 3.14159
Symbols: @ # % & * + = < > [ ] { } | ~ ^ _ ` \\
The photo was taken on 12/25/2021 at 7:30 p.m.
A tall giraffe eats leaves from the top of a tree.
An elephant walks slowly across a dusty field.
A group of birds flies over the water at dawn.
A laptop, a phone and a cup of coffee are on the desk.
Two horses stand in a field behind a white fence.
A pizza with cheese, tomatoes and basil sits on a wooden board.
A skateboarder jumps over a ramp in a city park.
The stop sign is red and white, and it is next to a tree.
A bowl of fruit contains bananas, apples and oranges.
An airplane is flying in a cloudy sky above the city.
A young girl is flying a kite on a windy day.
A traffic light shows green, and cars are waiting to turn left.
The bathroom has a white sink, a mirror and a towel.
A man and a woman are sitting on a bench in the park.
The living room has a television, a couch and a coffee table.
   Indented line with leading spaces.
Trailing spaces at the end of this line.   
Multiple   spaces   between   words.
Tabs\tseparate\tthese\twords.
"""


def sp_train_model(spm) -> bytes:
    lines = [line for line in CORPUS.split("\n") if line]
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=buf,
        model_type="bpe",
        vocab_size=VOCAB_SIZE,
        character_coverage=1.0,
        byte_fallback=True,
        split_digits=True,
        split_by_unicode_script=True,
        split_by_whitespace=True,
        split_by_number=True,
        max_sentencepiece_length=16,
        allow_whitespace_only_pieces=True,
        remove_extra_whitespaces=False,
        add_dummy_prefix=True,
        normalization_rule_name="identity",
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        unk_piece="<unk>",
        bos_piece="<s>",
        eos_piece="</s>",
        num_threads=1,
        shuffle_input_sentence=False,
        input_sentence_size=0,
        vocabulary_output_piece_score=True,
        minloglevel=2,
    )
    return buf.getvalue()


ENCODE_CASES = [
    "",
    "Hello world",
    "What is in the image?",
    "A photo of a red bus parked next to a tall brick building.",
    " leading space",
    "   three leading spaces",
    "trailing space ",
    "trailing spaces   ",
    "multiple   spaces   inside",
    " ",
    "   ",
    "line one\nline two",
    "\n",
    "ends with newline\n",
    "\n\nstarts with newlines",
    "tab\tseparated",
    "The year 2024 has 366 days; 3.14159 and 1,234,567.",
    "Call 555-0123 at 10:45.",
    "café naïve façade",
    "Tokyo is 東京.",
    "emoji: 🙂👍🏽 done",
    "🙂",
    "unseen chars: Ω ж ✓ ☃",
    "<s>",
    "literal <s> and </s> and <unk> text",
    "<image>",
    "USER: <image>\nWhat is in the image? ASSISTANT:",
    "ASSISTANT: A red bus.</s>",
    "Mixed: café 東京 🙂 42",
    "The quality score of my last response is",
    "▁ literal metaspace",
    "ÀÉÎÕÜ àéîõü",
]

DECODE_CASES_EXTRA = [
    [1, 2],  # special tokens decode to nothing
    [0],  # <unk> decodes to " ⁇ " in sentencepiece
]


def sp_piece_bytes(sp, i: int) -> bytes:
    """The bytes a piece contributes to the decoded text (before the leading-space strip)."""
    if sp.is_control(i):
        return b""
    if sp.is_unknown(i):
        return " \u2047 ".encode("utf-8")
    if sp.is_byte(i):
        return bytes([int(sp.id_to_piece(i)[3:5], 16)])
    return sp.id_to_piece(i).replace("\u2581", " ").encode("utf-8")


def sp_stream(sp, ids: list[int]) -> list[dict]:
    """For each prefix: the raw decoded bytes and the longest valid-UTF-8 prefix of them.

    Decoded byte stream = concatenation of piece bytes (▁ -> space, <0xNN> -> byte); the dummy-prefix
    space at the very start is removed (sentencepiece removes a leading space of the first
    non-control piece when add_dummy_prefix is on).
    """
    out = []
    acc = b""
    first = True
    for k, i in enumerate(ids):
        b = sp_piece_bytes(sp, i)
        if first and b and not sp.is_control(i):
            if b.startswith(b" ") and not sp.is_unknown(i):
                b = b[1:]
            first = False
        acc += b
        # longest valid UTF-8 prefix
        cut = len(acc)
        while cut > 0:
            try:
                text = acc[:cut].decode("utf-8")
                break
            except UnicodeDecodeError:
                cut -= 1
        else:
            text = ""
        out.append(
            {
                "n": k + 1,
                "sp_decode": sp.decode(ids[: k + 1]),
                "bytes_hex": acc.hex(),
                "complete_utf8_text": text,
                "pending_bytes": len(acc) - cut,
            }
        )
    return out


def make_hf_tokenizer_dir(dst: Path, legacy: bool) -> None:
    """A llava-hf-like tokenizer folder: tokenizer.model + tokenizer_config.json (+ `<image>`)."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TOK_DIR / "tokenizer.model", dst / "tokenizer.model")
    write_json(dst / "tokenizer_config.json", tokenizer_config(legacy))


def tokenizer_config(legacy: bool = False) -> dict:
    special = {"lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": {
            "0": {"content": "<unk>", **special},
            "1": {"content": "<s>", **special},
            "2": {"content": "</s>", **special},
            str(VOCAB_SIZE): {"content": IMAGE_TOKEN, **special},
        },
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": None,
        "clean_up_tokenization_spaces": False,
        "legacy": legacy,
        "padding_side": "left",
        "model_max_length": 256,
        "tokenizer_class": "LlamaTokenizer",
        "extra_special_tokens": {"image_token": IMAGE_TOKEN},
    }


def load_hf_tokenizer(legacy: bool, tmp: Path):
    from transformers import AddedToken, AutoTokenizer

    d = tmp / ("tok-legacy" if legacy else "tok")
    make_hf_tokenizer_dir(d, legacy)
    tok = AutoTokenizer.from_pretrained(str(d))
    if tok.convert_tokens_to_ids(IMAGE_TOKEN) != VOCAB_SIZE:
        tok.add_tokens([AddedToken(IMAGE_TOKEN, special=True, normalized=False)], special_tokens=True)
    assert tok.convert_tokens_to_ids(IMAGE_TOKEN) == VOCAB_SIZE, tok.convert_tokens_to_ids(IMAGE_TOKEN)
    assert tok.bos_token_id == 1 and tok.eos_token_id == 2 and tok.unk_token_id == 0
    return tok


def sp_no_dummy(sp_bytes: bytes):
    """A SentencePieceProcessor with add_dummy_prefix switched off (what legacy=False does
    for text that follows a special token)."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()
    proto.ParseFromString(sp_bytes)
    proto.normalizer_spec.add_dummy_prefix = False
    p = spm.SentencePieceProcessor()
    p.LoadFromSerializedProto(proto.SerializeToString())
    return p


def stage_tokenizer() -> None:
    import sentencepiece as spm

    TOK_DIR.mkdir(parents=True, exist_ok=True)
    model = sp_train_model(spm)
    write_bytes(TOK_DIR / "tokenizer.model", model)
    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(model)
    n = sp.get_piece_size()
    assert n == VOCAB_SIZE, n
    assert (sp.unk_id(), sp.bos_id(), sp.eos_id(), sp.pad_id()) == (0, 1, 2, -1)
    sp_nd = sp_no_dummy(model)

    tmp = ROOT / ".build-ref" / "tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tok = load_hf_tokenizer(False, tmp)
    tok_legacy = load_hf_tokenizer(True, tmp)

    problems = []
    encode = []
    for text in ENCODE_CASES:
        ids = sp.encode(text)
        pieces = sp.encode(text, out_type=str)
        hf_ids = tok(text, add_special_tokens=False)["input_ids"] if text else []
        case = {"text": text, "ids": ids, "pieces": pieces, "decoded": sp.decode(ids)}
        if IMAGE_TOKEN not in text and hf_ids != ids:
            problems.append(f"transformers != sentencepiece for {text!r} (recorded as hf_ids)")
            case["hf_ids"] = hf_ids
        encode.append(case)

    decode = []
    seqs = [c["ids"] for c in encode if c["ids"]] + DECODE_CASES_EXTRA
    seqs.append(sp.encode("café") + [2] + sp.encode(" 東京"))
    seqs.append([1] + sp.encode("Hello world") + [2])
    for ids in seqs:
        decode.append({"ids": ids, "text": sp.decode(ids)})

    # Incremental (streaming) decoding: every prefix.
    incremental = []
    for text in ["Mixed: café 東京 🙂 42", "emoji: 🙂👍🏽 done", "naïve ☃ Ω", "The image shows a red bus."]:
        ids = sp.encode(text)
        prefixes = sp_stream(sp, ids)
        assert prefixes[-1]["complete_utf8_text"] == sp.decode(ids) == text, (prefixes[-1], text)
        for p in prefixes:
            if p["pending_bytes"] == 0:
                assert p["sp_decode"] == p["complete_utf8_text"], p
        incremental.append({"text": text, "ids": ids, "prefixes": prefixes})

    # Chat template cases, tokenized by transformers (BOS added by the tokenizer).
    prompts = [
        (SYSTEM_VICUNA_V1, "What is in the image?", True),
        (SYSTEM_VICUNA_V1, "Describe the scene in detail.", True),
        (SYSTEM_LLAVA_V1, "How many people are in the picture?", True),
        ("", "What color is the car?", True),
        (SYSTEM_VICUNA_V1, "Is there a café in 東京? 🙂", True),
        (SYSTEM_VICUNA_V1, "  two leading spaces and a trailing one ", True),
        (SYSTEM_VICUNA_V1, "line one\nline two", True),
        (SYSTEM_VICUNA_V1, "What is in the image?", False),
    ]
    chat = []
    for system, prompt, image in prompts:
        rendered = render(prompt, system, image)
        ids = tok(rendered)["input_ids"]
        ids_legacy = tok_legacy(rendered)["input_ids"]
        # sentencepiece-composed equivalents
        if image:
            before, after = rendered.split(IMAGE_TOKEN)
            sp_ids = [1] + sp.encode(before) + [VOCAB_SIZE] + sp_nd.encode(after)
            orig = [1] + sp.encode(before) + [VOCAB_SIZE] + sp.encode(after)
        else:
            sp_ids = [1] + sp.encode(rendered)
            orig = sp_ids
        if sp_ids != ids:
            problems.append(f"chat: hf(legacy=False) != sp composition for {rendered!r}:\n {ids}\n {sp_ids}")
        if orig != ids_legacy:
            problems.append(f"chat: hf(legacy=True) != llava-original composition for {rendered!r}")
        chat.append(
            {
                "system": system,
                "prompt": prompt,
                "image": image,
                "rendered": rendered,
                "add_bos": True,
                "ids": ids,
                "pieces": tok.convert_ids_to_tokens(ids),
                "ids_legacy_true": ids_legacy,
                "ids_llava_original": orig,
            }
        )

    ref = {
        "generator": "tools/reference/make_fixtures.py stage tokenizer",
        "special": {"unk": 0, "bos": 1, "eos": 2, "pad": None, "vocab_size": n, "image_token": IMAGE_TOKEN,
                    "image_token_id": VOCAB_SIZE},
        "byte_pieces": {"first_id": sp.piece_to_id("<0x00>"), "last_id": sp.piece_to_id("<0xFF>")},
        "trainer": {
            "model_type": "bpe", "vocab_size": VOCAB_SIZE, "byte_fallback": True, "split_digits": True,
            "add_dummy_prefix": True, "normalization_rule_name": "identity",
            "allow_whitespace_only_pieces": True, "remove_extra_whitespaces": False,
            "character_coverage": 1.0,
        },
        "template": {
            "with_image": TEMPLATE,
            "with_image_no_system": TEMPLATE_NO_SYSTEM,
            "text_only": TEMPLATE_TEXT_ONLY,
            "system_vicuna_v1": SYSTEM_VICUNA_V1,
            "system_llava_v1": SYSTEM_LLAVA_V1,
            "bos": "prepended as id 1 by the tokenizer (add_bos_token=True); not part of `rendered`",
        },
        "chat_tokenizer": {
            "class": type(tok).__name__,
            "legacy": False,
            "note": (
                "`ids`: transformers LlamaTokenizer(legacy=False) = BOS + sp.encode(text before <image>) + "
                "[image id] + sp.encode(text after <image>) WITHOUT the dummy-prefix space. "
                "`ids_legacy_true`: legacy=True, text after <image> gets the dummy prefix. "
                "`ids_llava_original`: original LLaVA `tokenizer_image_token` (each chunk tokenized "
                "separately with the dummy prefix; -200 replaced by the image id)."
            ),
        },
        "encode": encode,
        "decode": decode,
        "incremental": incremental,
        "chat": chat,
    }
    write_json(TOK_DIR / "reference.json", ref)
    write_json(TOK_DIR / "tokenizer_config.json", tokenizer_config(False))
    shutil.rmtree(tmp)
    for p in problems:
        print("note:", p, file=sys.stderr)
    assert not any(p.startswith("chat") for p in problems), problems
    print(f"tokenizer: vocab {n}, {len(encode)} encode, {len(decode)} decode, {len(chat)} chat cases")


# --------------------------------------------------------------------------------------------
# Stage 2: images
# --------------------------------------------------------------------------------------------


def picture_rgb(w: int, h: int, seed: int) -> np.ndarray:
    """Gradients + shapes, uint8 HWC. Pure numpy (independent of PIL's drawing code)."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255.0 * x / max(w - 1, 1)
    g = 255.0 * y / max(h - 1, 1)
    b = 127.5 + 127.5 * np.sin((x + 2 * y) / 5.0)
    img = np.stack([r, g, b], axis=-1)
    # filled circle
    cx, cy, rad = w * 0.3, h * 0.45, min(w, h) * 0.22
    img[(x - cx) ** 2 + (y - cy) ** 2 <= rad ** 2] = [250, 240, 20]
    # rectangle
    img[int(h * 0.55):int(h * 0.85), int(w * 0.55):int(w * 0.9)] = [20, 30, 200]
    # checkerboard patch (high frequency)
    cb = ((x.astype(int) // 2 + y.astype(int) // 2) % 2 == 0)
    patch = (y < h * 0.25) & (x > w * 0.6)
    img[patch & cb] = [0, 0, 0]
    img[patch & ~cb] = [255, 255, 255]
    # diagonal line
    img[np.abs(x - y * w / h) < 0.8] = [255, 0, 255]
    img += rng.randint(-6, 7, size=img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def expand2square(pil_img, background_color):
    """LLaVA's pad-to-square (llava/mm_utils.py)."""
    from PIL import Image

    width, height = pil_img.size
    if width == height:
        return pil_img
    if width > height:
        result = Image.new(pil_img.mode, (width, width), background_color)
        result.paste(pil_img, (0, (width - height) // 2))
        return result
    result = Image.new(pil_img.mode, (height, height), background_color)
    result.paste(pil_img, ((height - width) // 2, 0))
    return result


def make_image_processor():
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    return CLIPImageProcessorPil(
        do_resize=True,
        size={"shortest_edge": 32},
        resample=3,
        do_center_crop=True,
        crop_size={"height": 32, "width": 32},
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=OPENAI_CLIP_MEAN,
        image_std=OPENAI_CLIP_STD,
        do_convert_rgb=True,
    )


def save_png(arr_or_img, path: Path) -> None:
    from PIL import Image

    img = arr_or_img if isinstance(arr_or_img, Image.Image) else Image.fromarray(arr_or_img)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=9)
    write_bytes(path, buf.getvalue())


def stage_images() -> None:
    from PIL import Image, features
    from transformers.image_transforms import convert_to_rgb

    IMG_DIR.mkdir(parents=True, exist_ok=True)
    rgb = picture_rgb(64, 48, seed=1)
    save_png(rgb, IMG_DIR / "rgb_64x48.png")
    grey = np.round(rgb.astype(np.float64) @ [0.299, 0.587, 0.114]).astype(np.uint8)
    save_png(Image.fromarray(grey, mode="L"), IMG_DIR / "grey_64x48.png")
    alpha = np.tile(np.linspace(0, 255, 64).round().astype(np.uint8), (48, 1))
    alpha[:8, :] = 255
    alpha[-8:, :] = 0
    rgba = np.concatenate([rgb, alpha[..., None]], axis=-1)
    save_png(Image.fromarray(rgba, mode="RGBA"), IMG_DIR / "rgba_64x48.png")
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=90, optimize=False, progressive=False, subsampling=2)
    write_bytes(IMG_DIR / "rgb_64x48_q90.jpg", buf.getvalue())
    save_png(np.array([[[200, 100, 50]]], dtype=np.uint8), IMG_DIR / "one_1x1.png")
    save_png(picture_rgb(40, 90, seed=2), IMG_DIR / "tall_40x90.png")

    proc = make_image_processor()
    proc.save_pretrained(str(IMG_DIR))
    fill = tuple(int(x * 255) for x in OPENAI_CLIP_MEAN)

    files = ["rgb_64x48.png", "grey_64x48.png", "rgba_64x48.png", "rgb_64x48_q90.jpg", "one_1x1.png", "tall_40x90.png"]
    entries = []
    for name in files:
        stem = name.rsplit(".", 1)[0] + ("_jpg" if name.endswith(".jpg") else "")
        img = Image.open(IMG_DIR / name)
        img.load()
        entry = {"file": name, "mode": img.mode, "width": img.width, "height": img.height, "outputs": []}
        # decoded pixels (uint8, HWC, as PIL decodes the file), then the processor's RGB conversion
        decoded = np.array(img)
        rgb_conv = convert_to_rgb(img, return_numpy=True)
        if name.endswith(".jpg"):
            write_bytes(IMG_DIR / f"{stem}.decoded.u8", decoded.astype(np.uint8).tobytes())
            entry["decoded_u8"] = {"file": f"{stem}.decoded.u8", "shape": list(decoded.shape), "layout": "HWC"}
        write_bytes(IMG_DIR / f"{stem}.rgb.u8", rgb_conv.astype(np.uint8).tobytes())
        entry["rgb_u8"] = {"file": f"{stem}.rgb.u8", "shape": list(rgb_conv.shape), "layout": "HWC",
                           "note": "after do_convert_rgb (alpha composited over white; grey replicated)"}
        for variant in ("plain", "pad"):
            src = Image.fromarray(rgb_conv)
            if variant == "pad":
                src = expand2square(src, fill)
                write_bytes(IMG_DIR / f"{stem}.pad.rgb.u8", np.array(src).tobytes())
            # intermediate: resized + centre-cropped uint8, via the same processor without rescale/normalize
            inter = proc(src, do_rescale=False, do_normalize=False, return_tensors="np")["pixel_values"][0]
            out = proc(src, return_tensors="np")["pixel_values"][0].astype(np.float32)
            assert out.shape == (3, 32, 32), out.shape
            assert inter.dtype == np.uint8, inter.dtype
            suffix = "" if variant == "plain" else ".pad"
            write_bytes(IMG_DIR / f"{stem}{suffix}.resized.u8", inter.tobytes())
            write_bytes(IMG_DIR / f"{stem}{suffix}.f32", out.astype("<f4").tobytes())
            sw, sh = src.size
            short, long_ = (sw, sh) if sw <= sh else (sh, sw)
            new_long = int(32 * long_ / short)
            rh, rw = (new_long, 32) if sh > sw else (32, new_long) if sw > sh else (32, 32)
            entry["outputs"].append(
                {
                    "variant": variant,
                    "pad_to_square_fill": list(fill) if variant == "pad" else None,
                    "input_size_wh": [sw, sh],
                    "resized_hw": [rh, rw],
                    "crop_top_left": [(rh - 32) // 2, (rw - 32) // 2],
                    "resized_u8": {"file": f"{stem}{suffix}.resized.u8", "shape": [3, 32, 32], "layout": "CHW",
                                   "note": "after resize + centre crop, before rescale/normalize"},
                    "pixel_values": {"file": f"{stem}{suffix}.f32", "dtype": "float32 little-endian",
                                     "shape": [3, 32, 32], "layout": "CHW"},
                    "pad_rgb_u8": ({"file": f"{stem}.pad.rgb.u8", "shape": [src.height, src.width, 3], "layout": "HWC"}
                                   if variant == "pad" else None),
                }
            )
        entries.append(entry)

    ref = {
        "generator": "tools/reference/make_fixtures.py stage images",
        "processor": {
            "class": "transformers CLIPImageProcessorPil (PIL backend; saved as CLIPImageProcessor)",
            "config": "preprocessor_config.json",
            "steps": [
                "convert_to_rgb: RGBA/LA/P-with-transparency composited over opaque white with PIL "
                "Image.alpha_composite; other modes Image.convert('RGB') (grey -> R=G=B)",
                "resize shortest edge to 32 with PIL bicubic (resample=3) on uint8: "
                "new_long = int(32 * long / short) (truncation), aspect kept",
                "centre crop 32x32: top = (h - 32) // 2, left = (w - 32) // 2",
                "rescale x * (1/255) in float64 numpy, then normalize (x - mean) / std, output float32",
            ],
            "image_mean": OPENAI_CLIP_MEAN,
            "image_std": OPENAI_CLIP_STD,
        },
        "pad_to_square": {
            "function": "LLaVA expand2square applied to the RGB-converted image before the processor",
            "fill": list(fill),
            "fill_formula": "tuple(int(x*255) for x in image_mean)",
            "placement": "wide: paste at (0, (w-h)//2); tall: paste at ((h-w)//2, 0)",
        },
        "pil": {"version": __import__("PIL").__version__, "libjpeg_turbo": features.version("libjpeg_turbo"),
                "zlib": features.version("zlib")},
        "jpeg": {"quality": 90, "progressive": False, "subsampling": "4:2:0",
                 "note": "reference pixel values are computed from the JPEG as PIL decodes it (see decoded_u8)"},
        "images": entries,
    }
    write_json(IMG_DIR / "reference.json", ref)
    print(f"images: {len(entries)} images")


# --------------------------------------------------------------------------------------------
# Stage 3: tiny checkpoints
# --------------------------------------------------------------------------------------------

TEXT_VOCAB = VOCAB_SIZE + 1  # SentencePiece pieces + `<image>`
IMAGE_TOKEN_ID = VOCAB_SIZE  # = TEXT_VOCAB - 1
POLICY_SEED = 1234
REWARD_SEED = 4321
MHA_SEED = 777


def torch_setup():
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    return torch


def llava_config(num_kv_heads: int = 2, rms_norm_eps: float = 1e-6):
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    vision = CLIPVisionConfig(
        image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=64, hidden_act="quick_gelu", layer_norm_eps=1e-5,
        projection_dim=32, attention_dropout=0.0,
    )
    text = LlamaConfig(
        vocab_size=TEXT_VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=num_kv_heads, hidden_act="silu",
        max_position_embeddings=256, rms_norm_eps=rms_norm_eps,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=None,
        attention_bias=False, mlp_bias=False,
    )
    cfg = LlavaConfig(
        vision_config=vision, text_config=text, image_token_index=IMAGE_TOKEN_ID,
        image_seq_length=16, projector_hidden_act="gelu", vision_feature_select_strategy="default",
        vision_feature_layer=-2, multimodal_projector_bias=True, tie_word_embeddings=False,
    )
    cfg._attn_implementation = "eager"
    return cfg


def init_weights(model, seed: int) -> None:
    """Deterministic, well-spread random weights (the default 0.02-std init gives near-uniform
    logits and fragile greedy ties). Visits parameters in name order with one torch.Generator."""
    torch = torch_setup()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            shape = tuple(p.shape)
            if name.endswith("bias"):
                v = 0.05 * torch.randn(shape, generator=g)
            elif "norm" in name or "layrnorm" in name:  # LayerNorm / RMSNorm weights
                v = 1.0 + 0.1 * torch.randn(shape, generator=g)
            elif name.endswith("embed_tokens.weight"):
                v = torch.randn(shape, generator=g)
            elif name.endswith("position_embedding.weight"):
                v = 0.5 * torch.randn(shape, generator=g)
            elif name.endswith("class_embedding"):
                v = torch.randn(shape, generator=g)
            elif p.dim() >= 2:
                fan_in = int(np.prod(shape[1:]))
                scale = 2.0 if name.endswith("lm_head.weight") else 1.0
                v = scale * torch.randn(shape, generator=g) / fan_in ** 0.5
            else:
                v = torch.randn(shape, generator=g)
            p.copy_(v.to(p.dtype))


class TinyReward:
    """The reward model: LlavaModel backbone + `score` Linear(hidden, 1, bias=False) applied to the
    final hidden state (after the final RMSNorm) at the last position."""

    def __init__(self, cfg, seed: int):
        torch = torch_setup()
        from transformers import LlavaModel

        torch.manual_seed(seed)
        self.model = LlavaModel(cfg).eval()
        self.score = torch.nn.Linear(cfg.text_config.hidden_size, 1, bias=False)
        holder = torch.nn.Module()
        holder.model = self.model
        holder.score = self.score
        init_weights(holder, seed)
        self.holder = holder

    def state_dict(self):
        return {k: v.detach().contiguous() for k, v in self.holder.state_dict().items()}

    def __call__(self, input_ids, pixel_values=None):
        torch = torch_setup()
        with torch.no_grad():
            out = self.model(input_ids=input_ids, pixel_values=pixel_values)
            h = out.last_hidden_state[:, -1, :]
            return self.score(h)[:, 0], h


def build_policy():
    torch = torch_setup()
    from transformers import LlavaForConditionalGeneration

    cfg = llava_config()
    torch.manual_seed(POLICY_SEED)
    model = LlavaForConditionalGeneration(cfg).eval()
    init_weights(model, POLICY_SEED)
    model.generation_config.bos_token_id = 1
    model.generation_config.eos_token_id = 2
    model.generation_config.pad_token_id = None
    return model


def save_safetensors(tensors: dict, path: Path, metadata: dict | None = None) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in sorted(tensors.items())}, str(path), metadata=metadata or {"format": "pt"})


def copy_aux_files(dst: Path) -> None:
    shutil.copyfile(TOK_DIR / "tokenizer.model", dst / "tokenizer.model")
    write_json(dst / "tokenizer_config.json", tokenizer_config(False))
    shutil.copyfile(IMG_DIR / "preprocessor_config.json", dst / "preprocessor_config.json")


def config_dict(model_or_cfg) -> dict:
    cfg = getattr(model_or_cfg, "config", model_or_cfg)
    d = cfg.to_dict()
    return d


def stage_models() -> None:
    torch = torch_setup()
    if POLICY_DIR.exists():
        shutil.rmtree(POLICY_DIR)
    policy = build_policy()
    policy.save_pretrained(str(POLICY_DIR), safe_serialization=True)
    copy_aux_files(POLICY_DIR)
    # sanity: reload and compare
    from transformers import LlavaForConditionalGeneration

    re = LlavaForConditionalGeneration.from_pretrained(str(POLICY_DIR), attn_implementation="eager")
    for (k1, v1), (k2, v2) in zip(sorted(policy.state_dict().items()), sorted(re.state_dict().items())):
        assert k1 == k2 and torch.equal(v1, v2), k1
    from safetensors import safe_open

    with safe_open(str(POLICY_DIR / "model.safetensors"), "pt") as f:
        on_disk = sorted(f.keys())
    assert on_disk == sorted(saved_v5_name(k) for k in policy.state_dict()), on_disk

    # reward
    if REWARD_DIR.exists():
        shutil.rmtree(REWARD_DIR)
    REWARD_DIR.mkdir(parents=True)
    cfg = llava_config()
    rm = TinyReward(cfg, REWARD_SEED)
    save_safetensors({saved_v5_name(k): v for k, v in rm.state_dict().items()}, REWARD_DIR / "model.safetensors")
    rcfg = json.loads((POLICY_DIR / "config.json").read_text())  # same backbone config, clean keys
    rcfg["architectures"] = ["LlavaForSequenceClassification"]
    rcfg["num_labels"] = 1
    rcfg["reward_head"] = {
        "tensor": "score.weight", "shape": [1, cfg.text_config.hidden_size], "bias": False,
        "input": "final hidden state (after the language model's final RMSNorm) at the last position",
    }
    write_json(REWARD_DIR / "config.json", rcfg)
    copy_aux_files(REWARD_DIR)
    print("models:", sorted(p.name for p in POLICY_DIR.iterdir()), sorted(p.name for p in REWARD_DIR.iterdir()))


# --------------------------------------------------------------------------------------------
# Stage 4: reference outputs
# --------------------------------------------------------------------------------------------

POLICY_PROMPT = "What is in the image?"
REWARD_CANDIDATES = [
    "The image shows a yellow circle, a blue rectangle and a pink diagonal line.",
    "A red bus parked next to a tall brick building.",
    "There is a cat sleeping on a sofa near the window.",
]
RM_EVAL_PROMPT = (
    " USER: Please evaluate the quality of your last response. A good response should be accurate, "
    "helpful, language natural, and concise. ASSISTANT: Following your definitions, the quality score "
    "of my last response is"
)


def load_policy_from_disk():
    torch_setup()
    from transformers import LlavaForConditionalGeneration

    return LlavaForConditionalGeneration.from_pretrained(str(POLICY_DIR), attn_implementation="eager").eval()


def make_processor(tok):
    from transformers import LlavaProcessor

    return LlavaProcessor(
        image_processor=make_image_processor(), tokenizer=tok, patch_size=8,
        vision_feature_select_strategy="default", image_token=IMAGE_TOKEN, num_additional_image_tokens=1,
    )


def greedy(model, inputs: dict, n: int, eos) -> tuple[list[int], list[float]]:
    """generate(do_sample=False) and the top1-top2 logit margin of each step."""
    torch = torch_setup()
    with torch.no_grad():
        out = model.generate(
            **inputs, do_sample=False, max_new_tokens=n, eos_token_id=eos, pad_token_id=0,
            output_scores=True, return_dict_in_generate=True, use_cache=True,
        )
    new = out.sequences[0, inputs["input_ids"].shape[1]:].tolist()
    margins = []
    for s in out.scores:
        top = torch.topk(s[0].float(), 2).values
        margins.append(float(top[0] - top[1]))
    return new, margins


def policy_case(model, tok, proc, image, prompt, name: str, tensors: dict) -> dict:
    torch = torch_setup()
    from PIL import Image

    rendered = render(prompt, SYSTEM_VICUNA_V1, image=image is not None)
    unexpanded = tok(rendered)["input_ids"]
    if image is not None:
        img = Image.open(IMG_DIR / image)
        inputs = proc(text=rendered, images=img, return_tensors="pt")
        inputs = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"],
                  "pixel_values": inputs["pixel_values"]}
        want_pv = np.fromfile(IMG_DIR / "rgb_64x48.f32", dtype="<f4").reshape(1, 3, 32, 32)
        assert np.array_equal(inputs["pixel_values"].numpy(), want_pv)
    else:
        enc = tok(rendered, return_tensors="pt")
        inputs = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    ids = inputs["input_ids"][0].tolist()
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True)
    tensors[f"{name}.logits"] = out.logits[0].float()
    # hidden_states[-1] is after the final RMSNorm (checked: lm_head(final_hidden) == logits)
    tensors[f"{name}.final_hidden"] = out.hidden_states[-1][0].float()
    assert torch.equal(model.lm_head(out.hidden_states[-1]), out.logits)
    case = {
        "rendered": rendered,
        "system": SYSTEM_VICUNA_V1,
        "prompt": prompt,
        "image": image,
        "input_ids_unexpanded": unexpanded,
        "input_ids": ids,
        "num_tokens": len(ids),
    }
    if image is not None:
        pv = inputs["pixel_values"]
        tensors[f"{name}.pixel_values"] = pv[0].float()
        with torch.no_grad():
            vt = model.model.vision_tower(pv, output_hidden_states=True)
            sel = vt.hidden_states[-2][:, 1:]
            proj = model.model.multi_modal_projector(sel)
            feats = model.model.get_image_features(pv, vision_feature_layer=-2,
                                                   vision_feature_select_strategy="default").pooler_output[0]
        assert torch.equal(proj[0], feats), "projector output mismatch"
        tensors[f"{name}.vision_hidden_states"] = torch.stack([h[0] for h in vt.hidden_states]).float()
        tensors[f"{name}.vision_selected"] = sel[0].float()
        tensors[f"{name}.projector_output"] = proj[0].float()
        positions = [i for i, t in enumerate(ids) if t == IMAGE_TOKEN_ID]
        assert len(positions) == 16 and positions == list(range(positions[0], positions[0] + 16))
        case["image_token_positions"] = [positions[0], positions[-1] + 1]
        expected = []
        for t in unexpanded:
            expected += [t] * 16 if t == IMAGE_TOKEN_ID else [t]
        assert expected == ids, "processor expansion != repeating the image id 16 times"
    g_eos, m_eos = greedy(model, inputs, 12, 2)
    g_all, m_all = greedy(model, inputs, 12, None)
    assert g_all[: len(g_eos)] == g_eos
    case["greedy"] = {
        "max_new_tokens": 12,
        "eos_token_id": 2,
        "new_tokens": g_eos,
        "stopped_at_eos": bool(g_eos and g_eos[-1] == 2),
        "text": tok.decode(g_eos, skip_special_tokens=True),
        "min_top2_margin": min(m_eos),
    }
    case["greedy_ignore_eos"] = {
        "max_new_tokens": 12,
        "eos_token_id": None,
        "new_tokens": g_all,
        "text": tok.decode(g_all, skip_special_tokens=True),
        "min_top2_margin": min(m_all),
        "top2_margins": m_all,
    }
    return case


def stage_reference() -> None:
    torch = torch_setup()
    from PIL import Image

    REF_DIR.mkdir(parents=True, exist_ok=True)
    tmp = ROOT / ".build-ref" / "tmp"
    tok = load_hf_tokenizer(False, tmp)
    proc = make_processor(tok)
    model = load_policy_from_disk()

    tensors: dict = {}
    cases = {
        "image": policy_case(model, tok, proc, "rgb_64x48.png", POLICY_PROMPT, "image", tensors),
        "text": policy_case(model, tok, proc, None, POLICY_PROMPT, "text", tensors),
    }
    save_safetensors(tensors, REF_DIR / "policy.safetensors")
    desc = {
        "image.logits": "[T, vocab] float32: LlavaForConditionalGeneration logits for every position of cases.image.input_ids",
        "image.final_hidden": "[T, hidden]: language model output after the final RMSNorm (hidden_states[-1])",
        "image.pixel_values": "[3, 32, 32]: = images/rgb_64x48.f32 (no pad-to-square)",
        "image.vision_hidden_states": "[layers+1, 17, 32]: CLIP hidden_states (0 = after pre_layrnorm, k = after layer k); no post_layernorm",
        "image.vision_selected": "[16, 32]: hidden_states[-2] without the CLS row (vision_feature_layer -2, strategy default)",
        "image.projector_output": "[16, 64]: multi_modal_projector(vision_selected) = the 16 embeddings spliced at the <image> positions",
        "text.logits": "[T, vocab]: text-only prompt logits",
        "text.final_hidden": "[T, hidden]",
    }
    write_json(REF_DIR / "policy.json", {
        "generator": "tools/reference/make_fixtures.py stage reference",
        "checkpoint": "tiny-llava-policy",
        "safetensors": "policy.safetensors",
        "tensors": {k: {"shape": list(v.shape), "dtype": "F32", "what": desc.get(k, "")}
                    for k, v in sorted(tensors.items())},
        "image_token_id": IMAGE_TOKEN_ID,
        "image_seq_length": 16,
        "expansion": ("transformers 5 LlavaProcessor replaces the `<image>` text by `<image>` x 16 "
                      "((32//8)*(32//8) + 1 CLS - 1 for strategy 'default') before tokenizing, so input_ids "
                      "hold 16 consecutive image ids; the model overwrites those 16 embedding rows with the "
                      "projector output (in order). Positions are plain 0..T-1."),
        "attention": "eager, fp32, batch 1, no padding",
        "cases": cases,
    })

    # reward
    cfg = llava_config()
    rm = TinyReward(cfg, REWARD_SEED)
    from safetensors.torch import load_file

    saved = load_file(str(REWARD_DIR / "model.safetensors"))
    cur = {saved_v5_name(k): v for k, v in rm.state_dict().items()}
    assert sorted(saved) == sorted(cur) and all(torch.equal(saved[k], cur[k]) for k in saved)
    img = Image.open(IMG_DIR / "rgb_64x48.png")
    pv = torch.from_numpy(np.fromfile(IMG_DIR / "rgb_64x48.f32", dtype="<f4").reshape(1, 3, 32, 32).copy())
    sp_nd = None
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(TOK_DIR / "tokenizer.model"))
    sp_nd = sp_no_dummy((TOK_DIR / "tokenizer.model").read_bytes())
    rtensors = {}
    rcases = []
    for i, resp in enumerate(REWARD_CANDIDATES):
        conv = render(POLICY_PROMPT, SYSTEM_VICUNA_V1) + " " + resp
        full_text = conv + "</s>" + RM_EVAL_PROMPT
        before, after = conv.split(IMAGE_TOKEN)
        ids = [1] + sp.encode(before) + [IMAGE_TOKEN_ID] + sp_nd.encode(after) + [2] + sp_nd.encode(RM_EVAL_PROMPT)
        hf_ids = tok(full_text)["input_ids"]
        assert hf_ids == ids, (hf_ids, ids)
        expanded = []
        for t in ids:
            expanded += [t] * 16 if t == IMAGE_TOKEN_ID else [t]
        x = torch.tensor([expanded])
        s, h = rm(x, pv)
        rtensors[f"candidate{i}.last_hidden"] = h[0].float()
        rcases.append({
            "response": resp,
            "text": full_text,
            "input_ids_unexpanded": ids,
            "input_ids": expanded,
            "score": float(s[0]),
        })
    rtensors["scores"] = torch.tensor([c["score"] for c in rcases], dtype=torch.float32)
    save_safetensors(rtensors, REF_DIR / "reward.safetensors")
    write_json(REF_DIR / "reward.json", {
        "generator": "tools/reference/make_fixtures.py stage reference",
        "checkpoint": "tiny-llava-reward",
        "safetensors": "reward.safetensors",
        "tensors": {k: {"shape": list(v.shape), "dtype": "F32"} for k, v in sorted(rtensors.items())},
        "image": "rgb_64x48.png (pixel_values = images/rgb_64x48.f32)",
        "sequence": ("BOS + '{system} USER: <image>\\n{prompt} ASSISTANT: {response}' + EOS(2) + "
                     "RM_EVAL_PROMPT (tokenized after the EOS without a dummy prefix: it starts with a space); "
                     "no trailing EOS. <image> expanded to 16 image ids."),
        "rm_eval_prompt": RM_EVAL_PROMPT,
        "score": "score.weight @ final_hidden[-1] (after the final RMSNorm), no bias",
        "cases": rcases,
    })

    layouts_reference(model, cases["image"], tensors)
    shutil.rmtree(tmp, ignore_errors=True)
    print("reference:", {k: (c["greedy"]["new_tokens"], round(c["greedy_ignore_eos"]["min_top2_margin"], 4))
                         for k, c in cases.items()}, [round(c["score"], 5) for c in rcases])


# --------------------------------------------------------------------------------------------
# Stage 5: checkpoint layout variants
# --------------------------------------------------------------------------------------------


def hub_v4_name(name: str) -> str:
    """Module (in-memory, transformers 5) name -> transformers 4.x / llava-hf hub checkpoint name.
    Inverse of transformers' conversion_mapping.py rules "llava" (+ "LlavaModel") and
    "CLIPVisionModel" (PrefixChange removing `vision_model`); the 4.x
    `_checkpoint_conversion_mapping` of LlavaForConditionalGeneration was
    {"^language_model.model": "model.language_model", "^vision_tower": "model.vision_tower",
     "^multi_modal_projector": "model.multi_modal_projector", "^language_model.lm_head": "lm_head"}."""
    if name.startswith("model.language_model."):
        return "language_model.model." + name[len("model.language_model."):]
    if name.startswith("lm_head."):
        return "language_model." + name
    if name.startswith("model.vision_tower."):
        return "vision_tower.vision_model." + name[len("model.vision_tower."):]
    if name.startswith("model.multi_modal_projector."):
        return name[len("model."):]
    if name.startswith("score."):
        return name
    raise ValueError(name)


def saved_v5_name(name: str) -> str:
    """Module name -> the name transformers 5.24 `save_pretrained` writes (it reverts the "llava"
    renames but not CLIP's `vision_model` prefix removal)."""
    if name.startswith("model.vision_tower."):
        return "vision_tower." + name[len("model.vision_tower."):]
    return hub_v4_name(name)


def sparse_config(full: dict, defaults: dict) -> dict:
    """Drop every key whose value equals the class default (recursively for sub-configs)."""
    out = {}
    for k, v in full.items():
        if k in ("vision_config", "text_config") and isinstance(v, dict):
            out[k] = sparse_config(v, defaults[k])
            continue
        if k in defaults and defaults[k] == v and k not in ("model_type", "architectures"):
            continue
        out[k] = v
    return out


def v4_style_config(cfg: dict, sparse: bool) -> dict:
    """transformers 4.x style LlavaConfig dict: `rope_theta` at the top of text_config (no
    rope_parameters), `torch_dtype` instead of `dtype`."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    d = json.loads(json.dumps(cfg))
    for sub in (d, d.get("text_config", {}), d.get("vision_config", {})):
        if "dtype" in sub:
            sub["torch_dtype"] = sub.pop("dtype")
    tc = d["text_config"]
    rp = tc.pop("rope_parameters", None)
    if rp is not None:
        tc["rope_theta"] = rp["rope_theta"]
        tc["rope_scaling"] = None
    d["transformers_version"] = "4.46.3"
    if not sparse:
        return d
    ldef = LlamaConfig().to_dict()
    ldef.pop("rope_parameters", None)
    ldef["rope_theta"] = 10000.0
    ldef["rope_scaling"] = None
    vdef = CLIPVisionConfig().to_dict()
    top = LlavaConfig().to_dict()
    defaults = {k: v for k, v in top.items() if k not in ("text_config", "vision_config")}
    defaults["text_config"] = ldef
    defaults["vision_config"] = vdef
    s = sparse_config(d, defaults)
    # hub configs never carry these bookkeeping keys
    for sub in (s, s.get("text_config", {}), s.get("vision_config", {})):
        for k in ("output_hidden_states", "return_dict", "chunk_size_feed_forward", "problem_type",
                  "is_encoder_decoder", "id2label", "label2id", "_name_or_path", "tokenizer_class",
                  "dtype", "torch_dtype", "use_cache"):
            sub.pop(k, None)
    # derived values that 4.x configs leave out (None in 4.x = derived at load time)
    tc = s["text_config"]
    full_tc = d["text_config"]
    if full_tc.get("num_key_value_heads") == full_tc["num_attention_heads"]:
        tc.pop("num_key_value_heads", None)
    if full_tc.get("head_dim") == full_tc["hidden_size"] // full_tc["num_attention_heads"]:
        tc.pop("head_dim", None)
    for sub in (s["text_config"], s["vision_config"]):
        if sub.get("architectures") is None:
            sub.pop("architectures", None)
    return sort_keys(s)


def sort_keys(obj):
    if isinstance(obj, dict):
        return {k: sort_keys(obj[k]) for k in sorted(obj)}
    return obj


def new_layout_dir(name: str) -> Path:
    d = LAYOUT_DIR / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    shutil.copyfile(IMG_DIR / "preprocessor_config.json", d / "preprocessor_config.json")
    return d


def write_layout(name: str, tensors: dict, config: dict, note: str) -> dict:
    d = new_layout_dir(name)
    write_json(d / "config.json", config)
    save_safetensors(tensors, d / "model.safetensors")
    return {"folder": name, "note": note}


def save_pretrained_layout(model, name: str, note: str, **kw) -> dict:
    d = new_layout_dir(name)
    model.save_pretrained(str(d), safe_serialization=True, **kw)
    (d / "generation_config.json").unlink(missing_ok=True)
    return {"folder": name, "note": note}


def stage_layouts() -> None:
    torch = torch_setup()
    from transformers import LlavaForConditionalGeneration

    LAYOUT_DIR.mkdir(parents=True, exist_ok=True)
    policy = load_policy_from_disk()
    sd = {k: v.detach().contiguous() for k, v in policy.state_dict().items()}  # module names
    cfg5 = json.loads((POLICY_DIR / "config.json").read_text())
    hub = {hub_v4_name(k): t for k, t in sd.items()}
    entries = []
    # (a) transformers 4.x / hub tensor names, v4-style full config (rope_theta at the top of text_config)
    entries.append(write_layout("v4-names", hub, v4_style_config(cfg5, sparse=False),
                                "hub (transformers 4.x) tensor names, fp32, 4.x-style full config "
                                "(text_config.rope_theta, no rope_parameters)"))
    # (b) sparse config: only non-default keys (GQA kept: num_key_value_heads=2 is non-default)
    entries.append(write_layout("v4-sparse-config", hub, v4_style_config(cfg5, sparse=True),
                                "hub names, fp32, sparse config: keys equal to the LlamaConfig / CLIPVisionConfig / "
                                "LlavaConfig defaults omitted (no rope_theta, hidden_act, rms_norm_eps, ...)"))
    # module names (what the model holds in memory; `model.` prefix) in case a writer saves them as is
    entries.append(write_layout("v5-module-names", sd, cfg5,
                                "transformers 5 module names (model.language_model.*, model.vision_tower.*, "
                                "model.multi_modal_projector.*, lm_head.weight), fp32"))
    # (c) float16 / bfloat16 via save_pretrained
    for dt, tname in ((torch.float16, "float16"), (torch.bfloat16, "bfloat16")):
        m = load_policy_from_disk().to(dt)
        entries.append(save_pretrained_layout(m, f"v5-{tname}", f"save_pretrained of the policy cast to {tname}; "
                                              "reference logits from these weights upcast to fp32"))
    # (d) sharded into 2 files + index, via save_pretrained(max_shard_size=...)
    entries.append(save_pretrained_layout(load_policy_from_disk(), "v5-sharded",
                                          "save_pretrained(max_shard_size='400KB'), fp32: 2 shards + index",
                                          max_shard_size="400KB"))
    shards = sorted(p.name for p in (LAYOUT_DIR / "v5-sharded").glob("*.safetensors"))
    assert len(shards) == 2 and (LAYOUT_DIR / "v5-sharded" / "model.safetensors.index.json").exists(), shards
    # (e) hub-like: a separate MHA model (num_key_value_heads omitted), hub names, float16, sparse config
    #     like llava-hf/llava-1.5-7b-hf's (text_config: rms_norm_eps 1e-5 is non-default)
    cfg_mha = llava_config(num_kv_heads=4, rms_norm_eps=1e-5)
    torch.manual_seed(MHA_SEED)
    mha = LlavaForConditionalGeneration(cfg_mha).eval()
    init_weights(mha, MHA_SEED)
    mcfg = v4_style_config(config_dict(cfg_mha), sparse=True)
    mcfg["architectures"] = ["LlavaForConditionalGeneration"]
    mcfg["torch_dtype"] = "float16"
    assert "num_key_value_heads" not in mcfg["text_config"]
    entries.append(write_layout("hub-mha-float16",
                                {hub_v4_name(k): v.detach().to(torch.float16).contiguous()
                                 for k, v in mha.state_dict().items()}, mcfg,
                                "separate MHA model (kv heads = heads, key omitted), hub names, float16, "
                                "sparse hub-style config; own reference logits"))
    names = sorted(sd)
    write_json(LAYOUT_DIR / "layouts.json", {
        "generator": "tools/reference/make_fixtures.py stage layouts",
        "names": [{"module": k, "hub_v4": hub_v4_name(k), "saved_by_transformers_5_24": saved_v5_name(k)}
                  for k in names],
        "normalize_to_module_names": [
            ["^language_model.model.", "model.language_model."],
            ["^language_model.lm_head.", "lm_head."],
            ["^vision_tower.vision_model.", "model.vision_tower."],
            ["^vision_tower.", "model.vision_tower."],
            ["^multi_modal_projector.", "model.multi_modal_projector."],
        ],
        "variants": entries,
        "reference": "reference/layouts.safetensors + reference/layouts.json",
    })
    layouts_reference_all()
    print("layouts:", [e["folder"] for e in entries])


def layouts_reference(model, image_case, tensors) -> None:
    """(Layout references are computed in stage layouts.)"""


def layouts_reference_all() -> None:
    """Load every variant with transformers' own from_pretrained (fp32) and compute the image-prompt
    logits; variants with the policy's fp32 weights must reproduce policy.safetensors exactly."""
    torch = torch_setup()
    from safetensors.torch import load_file
    from transformers import LlavaForConditionalGeneration

    pol = json.loads((REF_DIR / "policy.json").read_text())["cases"]["image"]
    ids = torch.tensor([pol["input_ids"]])
    pv = torch.from_numpy(np.fromfile(IMG_DIR / "rgb_64x48.f32", dtype="<f4").reshape(1, 3, 32, 32).copy())
    ref = load_file(str(REF_DIR / "policy.safetensors"))["image.logits"]
    out_t, out_j = {}, {}
    for d in sorted(p for p in LAYOUT_DIR.iterdir() if p.is_dir()):
        folder = d.name
        model = LlavaForConditionalGeneration.from_pretrained(
            str(d), dtype=torch.float32, attn_implementation="eager").eval()
        with torch.no_grad():
            logits = model(input_ids=ids, pixel_values=pv).logits[0].float()
        tc = model.config.text_config
        info = {"num_key_value_heads": tc.num_key_value_heads, "rope_theta": tc.rope_parameters["rope_theta"],
                "rms_norm_eps": tc.rms_norm_eps, "hidden_act": tc.hidden_act,
                "vision_hidden_act": model.config.vision_config.hidden_act,
                "layer_norm_eps": model.config.vision_config.layer_norm_eps,
                "files": sorted(p.name for p in d.iterdir())}
        if folder.startswith("v4-") or folder in ("v5-module-names", "v5-sharded"):
            diff = float((ref - logits).abs().max())
            assert diff == 0.0, (folder, diff)
            info["logits"] = "identical to policy.safetensors image.logits"
        else:
            out_t[f"{folder}.logits"] = logits
            info["logits"] = f"{folder}.logits"
            info["max_abs_diff_vs_fp32_policy"] = float((ref - logits).abs().max()) if folder.startswith("v5-") else None
            with torch.no_grad():
                g = model.generate(input_ids=ids, pixel_values=pv, attention_mask=torch.ones_like(ids),
                                   do_sample=False, max_new_tokens=12, eos_token_id=None, pad_token_id=0)
            info["greedy_ignore_eos"] = g[0, ids.shape[1]:].tolist()
        out_j[folder] = info
    save_safetensors(out_t, REF_DIR / "layouts.safetensors")
    write_json(REF_DIR / "layouts.json", {
        "generator": "tools/reference/make_fixtures.py stage layouts",
        "input": "policy.json cases.image input_ids + images/rgb_64x48.f32",
        "compute": "from_pretrained(dtype=float32): weights upcast to float32, fp32 eager forward",
        "tensors": {k: {"shape": list(v.shape), "dtype": "F32"} for k, v in sorted(out_t.items())},
        "variants": out_j,
    })


# --------------------------------------------------------------------------------------------
# Optional check (not part of the default run): the system C/C++ libraries the Swift side links
# --------------------------------------------------------------------------------------------


def stage_native() -> None:
    """Compile tools/reference/check_native.cc against Debian's libsentencepiece and libjpeg-turbo;
    check every `encode` case and the JPEG decode against the fixtures. Writes nothing under Tests/."""
    import subprocess

    exe = ROOT / ".build-ref" / "check_native"
    subprocess.run(["g++", "-O1", "-std=c++17", str(ROOT / "tools/reference/check_native.cc"),
                    "-lsentencepiece", "-ljpeg", "-o", str(exe)], check=True)
    ref = json.loads((TOK_DIR / "reference.json").read_text())
    inp = "".join(c["text"].encode("utf-8").hex() + "\n" for c in ref["encode"])
    out = subprocess.run([str(exe), str(FIX)], input=inp, capture_output=True, text=True, check=True)
    lines = out.stdout.split("\n")
    bad = [c["text"] for c, l in zip(ref["encode"], lines) if [int(x) for x in l.split()] != c["ids"]]
    print(out.stderr.strip())
    print(f"native: libsentencepiece encode: {len(ref['encode']) - len(bad)}/{len(ref['encode'])} identical", bad or "")
    if bad or "max|diff| 0 " not in out.stderr:
        sys.exit(1)


# --------------------------------------------------------------------------------------------

STAGES = {
    "tokenizer": stage_tokenizer,
    "images": stage_images,
    "models": stage_models,
    "reference": stage_reference,
    "layouts": stage_layouts,
}


def main(argv: list[str]) -> None:
    names = argv or list(STAGES)
    for n in names:
        if n == "native":
            continue
        if n not in STAGES:
            sys.exit(f"unknown stage {n!r}; stages: {', '.join(STAGES)}")
    for n in names:
        (stage_native if n == "native" else STAGES[n])()


if __name__ == "__main__":
    main(sys.argv[1:])
