// The runners' overload signal: a request that arrives while the preprocessing queue is full is
// refused with the same status and message as `BatchErrors.run` would give it, but a transport
// can ask before reading the request (the bridge's admission check, docs/reliability.md).
import Scheduler
public import ServingTypes

extension ModelRunner: OverloadSignal {
  public var overloaded: BackendError? { batch.preprocess.refusal.map(BatchErrors.refusal) }
}

extension RewardRunner: OverloadSignal {
  public var overloaded: BackendError? { batch.preprocess.refusal.map(BatchErrors.refusal) }
}
