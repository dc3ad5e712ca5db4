# Run with Pillow 13 + numpy. Random uint8 RGB images resized by Pillow (bicubic and bilinear),
# covering up- and downscaling, one-axis resizes and both pass orders of Pillow 13.
import json
import numpy as np
from PIL import Image

rng = np.random.default_rng(42)
cases = []
shapes = [(28, 20, 13, 9), (20, 28, 9, 13), (20, 45, 16, 10), (20, 45, 10, 36), (20, 45, 16, 36),
          (7, 5, 23, 31), (1, 1, 9, 4), (23, 15, 23, 6), (23, 15, 8, 15), (48, 12, 11, 3),
          (16, 64, 16, 5), (25, 25, 24, 24)]
blob = bytearray()
for i, (w, h, ow, oh) in enumerate(shapes):
    for name, f in (("bicubic", Image.BICUBIC), ("bilinear", Image.BILINEAR)):
        a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        out = np.asarray(Image.fromarray(a).resize((ow, oh), f))
        cases.append({"w": w, "h": h, "ow": ow, "oh": oh, "filter": name,
                      "input_offset": len(blob), "output_offset": len(blob) + a.size})
        blob += a.tobytes() + out.tobytes()
open("cases.bin", "wb").write(bytes(blob))
json.dump({"pillow": Image.__version__, "cases": cases}, open("cases.json", "w"), indent=0)
print(len(blob))
