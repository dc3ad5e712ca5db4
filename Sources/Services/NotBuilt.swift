// RPCs whose engine is not built yet answer UNIMPLEMENTED with a message that says so, after
// their request passed validation, so that clients can already be written and tested against
// the real contract. They never fake outputs.
import GRPCCore

enum NotBuilt {
  static func error(_ method: String, needs component: String) -> RPCError {
    RPCError(
      code: .unimplemented,
      message: "\(method) is not available yet: this rlhfd has no \(component). "
        + "The request was valid."
    )
  }
}
