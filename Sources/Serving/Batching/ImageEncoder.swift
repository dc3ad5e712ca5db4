// Image encoding (the CLIP tower and projector: ~1.3 s for ViT-L/14-336 on this machine) runs on
// its own thread, before a sequence joins the batch, so that a new image never stalls the steps
// of the sequences already decoding: they share the cores for that time instead of waiting.
// Features are cached by SHA-256, so an image is encoded once however many requests carry it.
import Engine
import Foundation
import Imaging
import Models
import Scheduler
import ServingTypes

/// One thread per model that encodes the images of requests in arrival order (a one-thread
/// `WorkerPool` with no bound on its queue: requests reach it only after admission checks).
final class ImageEncoder: Sendable {
  private let pool: WorkerPool

  init() {
    pool = WorkerPool(threads: 1, maxQueued: .max, niceness: 0) {
      ComputePriority.lowerCurrentThread(name: "image-encoder")
    }
  }

  /// Runs `job` on the encoder thread.
  func run(_ job: @escaping @Sendable () -> Void) { try? pool.submit(job) }

  /// Fills in `sequences`' image rows (all sequences carry the same images in the reward's
  /// case, any images in the policy's), encoding what the cache does not hold.
  static func encode(
    _ sequences: [any BatchSequence],
    features: ImageFeatures,
    with encoder: ([Float]) throws(ModelError) -> [Float]
  ) throws {
    var encoded: [ImageFeatureKey: [Float]] = [:]
    for sequence in sequences where sequence.imageEmbeddings == nil && !sequence.images.isEmpty {
      do {
        sequence.imageEmbeddings = try BatchInputs.imageRows(
          sequence,
          features: features,
          encoded: &encoded,
          encoder
        )
      } catch {
        throw BackendError(.invalidArgument, "images: \(error)")
      }
    }
  }

}
