// The feedback store the daemon serves from: opened before the server listens, so that a
// database another process holds (or a directory it cannot write) stops the start with a clear
// message instead of failing feedback later.
import Logging
import Serving
import Store

extension Daemon {
  static func openStore(
    _ configuration: DaemonConfiguration,
    logger: Logger
  ) throws -> SQLiteFeedbackStore? {
    guard let path = configuration.feedbackStorePath else {
      logger.notice("no feedback store: Feedback answers UNIMPLEMENTED, generations are not stored")
      return nil
    }
    do {
      let store = try SQLiteFeedbackStore(path: path)
      logger.notice("feedback store open", metadata: ["path": .string(path)])
      return store
    } catch {
      throw ConfigurationError("'feedback_store': \(error.message)")
    }
  }
}
