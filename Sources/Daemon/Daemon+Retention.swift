// The retention worker beside the store: started once the store is open, stopped (after at
// most one small transaction) before the store shuts down. Its passes are logged.
import Logging
import Store

extension Daemon {
  static func startRetention(
    _ store: SQLiteFeedbackStore,
    _ settings: RetentionSettings,
    logger: Logger
  ) -> RetentionWorker? {
    let policy = settings.policy
    if policy.isUnlimited {
      logger.notice("no retention limits: stored generations are kept")
      return nil
    }
    return RetentionWorker(store: store, policy: policy, interval: settings.intervalSeconds) {
      result in
      switch result {
      case .success(let report) where report.generations > 0 || report.images > 0:
        logger.notice(
          "retention pruned generations",
          metadata: [
            "generations": "\(report.generations)", "images": "\(report.images)",
            "transactions": "\(report.transactions)",
          ]
        )
      case .success: break
      case .failure(let error):
        logger.warning("retention pass failed: \(error.message)")
      }
    }
  }
}
