// The check every stored image goes through (RPCs and `rlhfd import` alike): a PNG or JPEG
// within the configured limits, judged from its header, and its SHA-256.
import Imaging
public import Services
import Serving

extension Daemon {
  public static func imageProbe(_ configuration: DaemonConfiguration) -> ImageProbe {
    let limits = configuration.runnerSettings().imageLimits
    return { bytes in
      _ = try ImageDecoder(limits: limits).probe(bytes)
      return ImageFeatureKey(bytes: bytes).hex
    }
  }
}
