// libFuzzer target: the image front end, decode (libpng / libjpeg-turbo behind the header limits)
// then CLIP preprocessing (research/reliability.md G3). Built only by scripts/fuzz.sh.
import Imaging

// Smaller limits than the daemon's so that a run stays fast; the code paths are the same.
let decoder = ImageDecoder(limits: ImageLimits(maxWidth: 512, maxHeight: 512, maxPixels: 1 << 18))
let preprocessor = CLIPPreprocessor()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImaging(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
  let bytes = UnsafeRawBufferPointer(start: count == 0 ? nil : start, count: count)
  guard let header = try? decoder.probe(bytes) else { return 0 }
  guard let image = try? decoder.decode(bytes) else { return 0 }
  precondition(image.width == header.width && image.height == header.height)
  let pixels = preprocessor.pixelValues(for: image)
  _ = pixels
  return 0
}
