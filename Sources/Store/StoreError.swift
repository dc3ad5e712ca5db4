// Errors of the store are values with a code the RPC layer maps to a status, and a message that
// says what happened. A submission that failed was not acknowledged and is not in the store.
import GRDB

public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
  public enum Code: Sendable, Equatable {
    /// A referenced generation, image or policy version is not in the store.
    case notFound
    /// An idempotency key came back with other content.
    case conflict
    /// The disk (or the database's size limit) is full.
    case full
    /// The database cannot be written or read now (read-only, I/O error, closed).
    case unavailable
    /// Another process holds the database, or it cannot be opened or migrated.
    case cannotOpen
    /// A record with this id exists already (policy versions).
    case exists
    /// The change is not allowed in the current state (e.g. retiring the promoted version).
    case precondition
  }

  public var code: Code
  public var message: String
  public var description: String { message }

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  /// The store's view of an error thrown by SQLite (through GRDB) or by a write.
  static func from(_ error: any Error) -> StoreError {
    if let error = error as? StoreError { return error }
    guard let error = error as? DatabaseError else {
      return StoreError(.unavailable, "feedback store: \(error)")
    }
    let what = "feedback store: \(error.message ?? "SQLite error \(error.resultCode.rawValue)")"
    switch error.resultCode {
    case .SQLITE_FULL: return StoreError(.full, "\(what): the disk is full")
    case .SQLITE_READONLY: return StoreError(.unavailable, "\(what): the database is read-only")
    case .SQLITE_IOERR: return StoreError(.unavailable, "\(what): I/O error")
    default: return StoreError(.unavailable, what)
    }
  }
}
