// Image encoding (the CLIP tower and projector: ~1.3 s for ViT-L/14-336 on this machine) runs on
// its own thread, before a sequence joins the batch, so that a new image never stalls the steps
// of the sequences already decoding: they share the cores for that time instead of waiting.
// Features are cached by SHA-256, so an image is encoded once however many requests carry it.
import Foundation
import Imaging
import Models
import Services

/// One thread per model that encodes the images of requests in arrival order. The thread holds
/// only the job queue, never the encoder: an encoder dropped before use (a runner whose load
/// failed after making it) stops its thread in `deinit` instead of leaving it with a dangling
/// reference.
final class ImageEncoder: Sendable {
  private let queue = JobQueue()

  init(name: String) {
    let queue = self.queue
    let thread = Thread { queue.loop() }
    thread.name = name
    thread.start()
  }

  deinit { queue.stop() }

  /// Runs `job` on the encoder thread.
  func run(_ job: @escaping @Sendable () -> Void) { queue.append(job) }

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

/// The encoder thread's jobs; the thread ends when the queue is stopped and empty.
private final class JobQueue: @unchecked Sendable {
  private let condition = NSCondition()
  private var jobs: [@Sendable () -> Void] = []
  private var stopped = false

  func append(_ job: @escaping @Sendable () -> Void) {
    condition.lock()
    jobs.append(job)
    condition.signal()
    condition.unlock()
  }

  func stop() {
    condition.lock()
    stopped = true
    condition.signal()
    condition.unlock()
  }

  func loop() {
    while true {
      condition.lock()
      while jobs.isEmpty && !stopped { condition.wait() }
      if jobs.isEmpty {
        condition.unlock()
        return
      }
      let job = jobs.removeFirst()
      condition.unlock()
      job()
    }
  }
}
