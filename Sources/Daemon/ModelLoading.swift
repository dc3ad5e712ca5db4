// Models load after the server listens, so that health can answer NOT_SERVING while a large
// checkpoint loads (instead of refusing connections), and so that a port already in use fails
// at once rather than after the load. Until its model is there, a backend answers UNAVAILABLE.
import ServiceLifecycle
import Serving
import ServingTypes
import Synchronization

/// A model that is set once, when it has loaded.
final class LoadingSlot<Model: Sendable>: Sendable {
  private let model = Mutex<Model?>(nil)
  let what: String

  init(what: String) { self.what = what }

  func set(_ loaded: Model) { self.model.withLock { $0 = loaded } }

  /// The model once loaded.
  var loaded: Model? { self.model.withLock { $0 } }

  /// The model, or UNAVAILABLE while it is still loading.
  func require() throws(BackendError) -> Model {
    guard let loaded = self.model.withLock({ $0 }) else {
      throw BackendError(
        .unavailable,
        "the \(self.what) model is still loading; retry when health reports SERVING"
      )
    }
    return loaded
  }
}

/// The overload signal of a slot's model; nil while it loads (the handler then says UNAVAILABLE).
struct LoadingOverload<Model: OverloadSignal>: OverloadSignal {
  let slot: LoadingSlot<Model>

  var overloaded: BackendError? { self.slot.loaded?.overloaded }
}

struct LoadingPolicyBackend: PolicyBackend {
  let slot: LoadingSlot<ModelRunner>

  func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
    do {
      return try self.slot.require().generate(request)
    } catch {
      return AsyncThrowingStream { $0.finish(throwing: error) }
    }
  }
}

struct LoadingRewardBackend: RewardBackend {
  let slot: LoadingSlot<RewardRunner>

  func score(_ request: RewardRequest) async throws -> RewardResult {
    try await self.slot.require().score(request)
  }
}

/// Health turns SERVING (and systemd hears READY=1) once the server listens AND the models are
/// loaded, whichever comes last.
final class Readiness: Sendable {
  private let state = Mutex((listening: [String]?.none, loaded: false, announced: false))
  private let announce: @Sendable (_ addresses: [String]) -> Void

  init(announce: @escaping @Sendable (_ addresses: [String]) -> Void) { self.announce = announce }

  func listening(on addresses: [String]) { self.update { $0.listening = addresses } }
  func loaded() { self.update { $0.loaded = true } }

  private func update(
    _ change: (inout (listening: [String]?, loaded: Bool, announced: Bool)) -> Void
  ) {
    let addresses = self.state.withLock { state -> [String]? in
      change(&state)
      guard let addresses = state.listening, state.loaded, !state.announced else { return nil }
      state.announced = true
      return addresses
    }
    if let addresses { self.announce(addresses) }
  }
}

/// Loads the models in the service group, then waits for shutdown. A failed load ends the
/// daemon with the loader's error.
struct ModelLoaderService: Service {
  let load: @Sendable () throws -> Void
  let readiness: Readiness

  func run() async throws {
    let load = self.load
    try await Task.detached { try load() }.value
    self.readiness.loaded()
    try? await gracefulShutdown()
  }
}
