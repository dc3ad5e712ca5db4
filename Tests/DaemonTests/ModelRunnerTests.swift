// The model runner on the tiny fixture policy: reference greedy tokens through the whole
// serving path (template, tokenizer, image decode + preprocess, image-token expansion), stop
// strings, max_new_tokens, seeds, cancellation and the bad-input errors.
import Daemon
import Foundation
import Imaging
import Scheduler
import Serving
import ServingTypes
import Testing
import Tokenizer

enum RunnerFixtures {
  static let root: String = {
    var url = URL(fileURLWithPath: #filePath)
    while url.lastPathComponent != "Tests" && url.pathComponents.count > 1 {
      url.deleteLastPathComponent()
    }
    return url.appendingPathComponent("Fixtures").path
  }()

  /// One runner for the suite (LLaVA-RLHF's template, as the reference was rendered).
  static let runner: ModelRunner = {
    var settings = ModelRunnerSettings()
    settings.template = .llavaRLHF
    settings.imageLimits.minWidth = 2
    settings.imageLimits.minHeight = 2
    do {
      return try ModelRunner(directory: root + "/tiny-llava-policy", settings: settings)
    } catch {
      fatalError("cannot load the fixture policy: \(error)")
    }
  }()

  static func image(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: root + "/images/" + name)))
  }

  static func reference(_ name: String) throws -> (prompt: String, tokens: [Int32]) {
    let data = try Data(contentsOf: URL(fileURLWithPath: root + "/reference/policy.json"))
    let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    let cases = json?["cases"] as? [String: Any]
    let entry = cases?[name] as? [String: Any]
    let greedy = entry?["greedy"] as? [String: Any]
    let tokens = (greedy?["new_tokens"] as? [Any] ?? []).compactMap {
      ($0 as? NSNumber)?.int32Value
    }
    return (entry?["prompt"] as? String ?? "", tokens)
  }
}

/// Runs a generation to the end; returns the deltas and the result.
func collect(
  _ request: GenerationRequest,
  runner: ModelRunner = RunnerFixtures.runner
) async throws -> (deltas: [String], tokens: [Int32], result: GenerationResult) {
  var deltas: [String] = []
  var tokens: [Int32] = []
  for try await event in runner.generate(request) {
    switch event {
    case .delta(let text, let ids, _):
      deltas.append(text)
      tokens += ids
    case .finished(let result): return (deltas, tokens, result)
    }
  }
  throw BackendError(.internalError, "no result")
}

func backendError(_ request: GenerationRequest) async -> BackendError? {
  do {
    _ = try await collect(request)
    return nil
  } catch let error as BackendError {
    return error
  } catch {
    return BackendError(.internalError, "not a BackendError: \(error)")
  }
}

@Suite(.serialized) struct ModelRunnerTests {
  func greedy(_ prompt: String, images: [GenerationImage] = [], max: Int? = 12)
    -> GenerationRequest
  {
    var request = GenerationRequest(prompt: prompt)
    request.images = images
    request.sampling.maxNewTokens = max
    return request
  }

  @Test func greedyImageGenerationMatchesTransformers() async throws {
    let (prompt, expected) = try RunnerFixtures.reference("image")
    let png = try RunnerFixtures.image("rgb_64x48.png")
    let (deltas, streamed, result) = try await collect(greedy(prompt, images: [.data(png)]))
    #expect(result.tokenIds == expected)
    #expect(streamed == expected)
    #expect(deltas.joined() == result.text)
    #expect(result.finishReason == .length)
    #expect(result.promptTokens == 82)
    #expect(result.policyVersion == "base")
    #expect(!result.generationId.isEmpty)

    // The same image again by its SHA-256 gives the same tokens.
    let hash = sha256Hex(png)
    let (_, _, again) = try await collect(greedy(prompt, images: [.sha256(hash)]))
    #expect(again.tokenIds == expected)
  }

  @Test func greedyTextGenerationMatchesTransformers() async throws {
    let (prompt, expected) = try RunnerFixtures.reference("text")
    let (_, _, result) = try await collect(greedy(prompt))
    #expect(result.tokenIds == expected)
    #expect(result.promptTokens == 63)
  }

  @Test func maxNewTokensBoundsTheOutput() async throws {
    let (_, _, result) = try await collect(greedy("Hello there", max: 3))
    #expect(result.tokenIds.count == 3)
    #expect(result.finishReason == .length)
  }

  @Test func stopStringEndsGenerationAndIsNotReturned() async throws {
    let full = try await collect(greedy("What is in the image?", max: 12)).result
    // Stop at a piece of text that appears in the greedy output.
    let text = full.text
    #expect(text.count > 4)
    let stop = String(text.dropFirst(2).prefix(2))
    var request = greedy("What is in the image?", max: 12)
    request.sampling.stop = [stop]
    let (deltas, _, result) = try await collect(request)
    #expect(result.finishReason == .stop)
    #expect(!result.text.contains(stop))
    #expect(text.hasPrefix(result.text))
    #expect(deltas.joined() == result.text)
    #expect(result.tokenIds.count < 12)
  }

  @Test func sameSeedSameText() async throws {
    var request = greedy("Tell me a story", max: 16)
    request.sampling.temperature = 1
    request.sampling.topP = 0.95
    request.sampling.seed = 42
    request.sampling.logprobs = true
    let a = try await collect(request).result
    let b = try await collect(request).result
    #expect(a.tokenIds == b.tokenIds)
    #expect(a.text == b.text)
    #expect(a.logprobs?.count == a.tokenIds.count)
    #expect(a.logprobs?.allSatisfy { $0 <= 0 } == true)
    request.sampling.seed = 7
    let c = try await collect(request).result
    #expect(c.tokenIds != a.tokenIds)
  }

  @Test func cancellationStopsGeneration() async throws {
    var endless = greedy("Go on and on", max: nil)  // the default: up to the context's end
    endless.sampling.temperature = 1
    endless.sampling.seed = 1
    let request = endless
    let runner = try ModelRunner(directory: RunnerFixtures.root + "/tiny-llava-policy")
    let task = Task {
      for try await event in runner.generate(request) {
        if case .delta = event { return true }  // leaves the stream: the consumer is gone
      }
      return false
    }
    #expect(try await task.value)
    #expect(await Self.drained(runner), "the abandoned generation is still in the batch")
    let spent = runner.tokensSampled
    #expect(spent < 50, "the abandoned generation ran for \(spent) tokens")

    // Cancelling the consuming task stops it too.
    let before = runner.tokensSampled
    let task2 = Task {
      var count = 0
      for try await event in runner.generate(request) {
        if case .delta(_, let ids, _) = event {
          count += ids.count
          if count == 1 { withUnsafeCurrentTask { $0?.cancel() } }
        }
      }
      return count
    }
    _ = await task2.result
    #expect(await Self.drained(runner), "the cancelled generation is still in the batch")
    #expect(runner.tokensSampled - before < 50)
  }

  @Test func aKVCacheTooSmallForOneFullSequenceIsAConfigurationError() {
    var settings = ModelRunnerSettings()
    settings.batching.kvCacheBytes = 1024
    let error = #expect(throws: ConfigurationError.self) {
      _ = try ModelRunner(directory: RunnerFixtures.root + "/tiny-llava-policy", settings: settings)
    }
    #expect(error?.message.contains("kv_cache_bytes") == true)
  }

  @Test func aStreamThatIsNotReadPausesItsSequence() async throws {
    let runner = try ModelRunner(directory: RunnerFixtures.root + "/tiny-llava-policy")
    var request = greedy("Go on and on", max: 150)
    request.sampling.temperature = 1
    request.sampling.seed = 5
    let stream = runner.generate(request)
    // Nobody reads: the sequence stops once its client is `maxUnread` events behind.
    var last = -1
    for _ in 0..<100 {
      try await Task.sleep(for: .milliseconds(20))
      let now = runner.tokensSampled
      if now == last && now > 0 { break }
      last = now
    }
    #expect(last > 0 && last <= 40, "sampled \(last) tokens for a client that read nothing")
    #expect(runner.batchSnapshot.running == 1)
    // Reading resumes it, to the end.
    var tokens = 0
    var ended = false
    for try await event in stream {
      switch event {
      case .delta(_, let ids, _): tokens += ids.count
      case .finished: ended = true
      }
    }
    #expect(ended && tokens > last)
  }

  /// Waits (bounded) until nothing runs or waits in the runner's batch.
  static func drained(_ runner: ModelRunner) async -> Bool {
    for _ in 0..<500 {
      let snapshot = runner.batchSnapshot
      if snapshot.running == 0 && snapshot.waiting == 0 { return true }
      try? await Task.sleep(for: .milliseconds(10))
    }
    print("not drained: \(runner.batchSnapshot)")
    return false
  }

  @Test func aFullQueueRefusesWithResourceExhausted() async throws {
    var settings = ModelRunnerSettings()
    settings.batching.maxBatchSize = 1
    settings.batching.maxWaitingRequests = 0
    let runner = try ModelRunner(
      directory: RunnerFixtures.root + "/tiny-llava-policy",
      settings: settings
    )
    var long = greedy("Go on and on", max: 150)
    long.sampling.temperature = 1
    long.sampling.seed = 3
    let first = runner.generate(long)  // running: holds the only slot until it ends
    // Wait until it runs, so the second one finds the queue (of 0) full.
    for _ in 0..<500 where runner.batchSnapshot.running == 0 {
      try await Task.sleep(for: .milliseconds(2))
    }
    let second = await #expect(throws: BackendError.self) {
      for try await _ in runner.generate(long) {}
    }
    #expect(second?.code == .resourceExhausted)
    #expect(second?.message.contains("queue") == true)
    for try await _ in first {}
    // Free again once the first one ended.
    let after = try await collect(greedy("Hello", max: 2), runner: runner).result
    #expect(after.tokenIds.count == 2)
  }

  @Test func badInputsAreExplained() async throws {
    var request = greedy("x", images: [.data([1, 2, 3, 4])])
    #expect(await backendError(request)?.code == .invalidArgument)

    request = greedy("x", images: [.sha256(String(repeating: "ab", count: 32))])
    #expect(await backendError(request)?.code == .notFound)

    request = greedy("x", images: [.data(try RunnerFixtures.image("one_1x1.png"))])
    let tiny = await backendError(request)
    #expect(tiny?.code == .invalidArgument)
    #expect(tiny?.message.contains("1x1") == true)

    request = greedy(String(repeating: "word ", count: 400))
    let long = await backendError(request)
    #expect(long?.code == .invalidArgument)
    #expect(long?.message.contains("context") == true)

    request = greedy("Hello", max: 1000)
    let tooMany = await backendError(request)
    #expect(tooMany?.code == .invalidArgument)
    #expect(tooMany?.message.contains("max_new_tokens") == true)

    request = greedy("Hello")
    request.policyVersion = "v-unknown"
    #expect(await backendError(request)?.code == .notFound)

    request = greedy("<image>\nHello", max: 2)
    request.rawPrompt = true
    #expect(await backendError(request)?.code == .invalidArgument)
  }
}

/// Lowercase hex SHA-256 (via the runner's own cache key, computed by the Imaging module).
func sha256Hex(_ bytes: [UInt8]) -> String {
  ModelRunner.imageKey(bytes)
}
