# Run with Pillow + numpy in a venv from this folder. Extra decoder fixtures for Tests/ImagingTests/Inputs: PNG variants written by hand (so that bit
# depth, palette transparency and Adam7 interlacing are exactly what is wanted) and JPEG variants
# written by Pillow; expected RGB bytes from Pillow: `composite` = transformers' convert_to_rgb
# (RGB kept; others -> RGBA -> alpha_composite over white), `drop` = Image.convert("RGB").
import io, json, struct, zlib, random
import numpy as np
from PIL import Image

random.seed(1)
W, H = 13, 9
out = {}

def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)

def pack_rows(arr, depth, channels):
    # arr: H x W x C integers
    rows = []
    for row in arr:
        if depth == 16:
            rows.append(b"".join(struct.pack(">H", int(v)) for v in row.reshape(-1)))
        elif depth == 8:
            rows.append(bytes(int(v) for v in row.reshape(-1)))
        else:
            bits = "".join(format(int(v), f"0{depth}b") for v in row.reshape(-1))
            bits += "0" * (-len(bits) % 8)
            rows.append(bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8)))
    return rows

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]

def png(arr, color, depth, interlace=False, extra=b""):
    h, w = arr.shape[:2]
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 1 if interlace else 0)
    raw = b""
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            sub = arr[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += b"".join(b"\0" + r for r in pack_rows(sub, depth, 0))
    else:
        raw = b"".join(b"\0" + r for r in pack_rows(arr, depth, 0))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

def rnd(shape, hi):
    return np.array([random.randint(0, hi) for _ in range(int(np.prod(shape)))]).reshape(shape)

def composite(im):
    if im.mode == "RGB":
        return im
    rgba = im.convert("RGBA")
    bg = Image.new("RGBA", rgba.size, (255, 255, 255))
    return Image.alpha_composite(bg, rgba).convert("RGB")

files = {}
rgb16 = rnd((H, W, 3), 65535)
files["rgb16.png"] = png(rgb16, 2, 16)
rgba16 = rnd((H, W, 4), 65535)
files["rgba16.png"] = png(rgba16, 6, 16)
la = rnd((H, W, 2), 255)
files["grey_alpha.png"] = png(la, 4, 8)
files["interlaced_rgba.png"] = png(rnd((H, W, 4), 255), 6, 8, interlace=True)
files["interlaced_rgb.png"] = png(rnd((H, W, 3), 255), 2, 8, interlace=True)
grey4 = rnd((H, W, 1), 15)
files["grey4.png"] = png(grey4, 0, 4)
pal = rnd((H, W, 1), 5)
plte = bytes(random.randint(0, 255) for _ in range(6 * 3))
trns = bytes([0, 64, 128, 255])  # entries 4, 5 opaque by omission
files["palette_trns.png"] = png(pal, 3, 4, extra=chunk(b"PLTE", plte) + chunk(b"tRNS", trns))
grey8 = rnd((H, W, 1), 255)
files["grey_trns.png"] = png(grey8, 0, 8, extra=chunk(b"tRNS", struct.pack(">H", int(grey8[0, 0, 0]))))
rgbk = rnd((H, W, 3), 255)
files["rgb_trns.png"] = png(rgbk, 2, 8, extra=chunk(b"tRNS", struct.pack(">HHH", *[int(v) for v in rgbk[0, 0]])))

base = Image.fromarray(rnd((H, W, 3), 255).astype(np.uint8), "RGB")
buf = io.BytesIO(); base.convert("L").save(buf, "JPEG", quality=85); files["grey.jpg"] = buf.getvalue()
buf = io.BytesIO(); base.save(buf, "JPEG", quality=85, progressive=True); files["progressive.jpg"] = buf.getvalue()
buf = io.BytesIO(); base.save(buf, "JPEG", quality=85, subsampling=0); files["444.jpg"] = buf.getvalue()
buf = io.BytesIO(); base.convert("CMYK").save(buf, "JPEG", quality=85); files["cmyk.jpg"] = buf.getvalue()

ref = {}
for name, data in files.items():
    open(name, "wb").write(data)
    im = Image.open(io.BytesIO(data)); im.load()
    entry = {"mode": im.mode, "size": list(im.size)}
    if name != "cmyk.jpg":
        c = np.asarray(composite(im)); d = np.asarray(im.convert("RGB"))
        open(name + ".composite.u8", "wb").write(c.astype(np.uint8).tobytes())
        open(name + ".drop.u8", "wb").write(d.astype(np.uint8).tobytes())
    ref[name] = entry
json.dump(ref, open("variants.json", "w"), indent=1)
print(ref)
