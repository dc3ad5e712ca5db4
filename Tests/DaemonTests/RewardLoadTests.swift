// The reward runner's load signal: an interactive Score is interactive demand from its arrival
// to its end, a batch-priority Score (the trainer's) never is, and nothing stays counted after
// a request ends, failed ones included.
import Foundation
import Imaging
import Serving
import ServingTypes
import Synchronization
import Testing

@Suite(.serialized) struct RewardLoadTests {
  /// The most interactive demand seen while `request` is scored (polled until it ends).
  static func demandSeen(_ runner: RewardRunner, _ request: RewardRequest) async -> Int {
    let finished = Atomic<Bool>(false)
    let task = Task {
      defer { finished.store(true, ordering: .releasing) }
      return try? await runner.score(request)
    }
    var seen = 0
    while !finished.load(ordering: .acquiring) {
      seen = max(seen, runner.interactiveDemand)
      await Task.yield()
    }
    #expect(await task.value != nil, "the score failed")
    return seen
  }

  @Test func interactiveScoresAreDemandAndBatchScoresAreNot() async throws {
    var settings = RewardRunnerSettings()
    settings.imageLimits.minWidth = 2
    settings.imageLimits.minHeight = 2
    let directory = URL(fileURLWithPath: RunnerFixtures.root)
      .deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("models/default/reward").path
    let runner = try RewardRunner(directory: directory, settings: settings)
    #expect(runner.load == RunnerLoad() && runner.interactiveDemand == 0)
    let image = try RunnerFixtures.image("rgb_64x48.png")
    var request = RewardRequest(
      prompt: "What is in the image?",
      image: .data(image),
      responses: ["A yellow circle.", "A red bus."]
    )
    request.priority = .batch
    #expect(await Self.demandSeen(runner, request) == 0)
    request.priority = .interactive
    #expect(await Self.demandSeen(runner, request) >= 1)
    #expect(runner.load == RunnerLoad())
    // A request refused while preparing leaves nothing counted.
    request.image = .data([1, 2, 3])
    await #expect(throws: BackendError.self) { _ = try await runner.score(request) }
    #expect(runner.load == RunnerLoad())
  }
}
