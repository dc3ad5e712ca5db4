// `rlhfd import`: LLaVA-RLHF's JSON files into the feedback store file, with the daemon
// stopped (the store's lock file says so otherwise). Every record goes through the RPCs'
// validation (FeedbackIntake) and is stored with an idempotency key made of the file's name and
// the record's id, so importing a file again stores nothing new (its records are duplicates).
// Records are submitted a batch at a time; they share the store's group commits.
import API
import ArgumentParser
import Daemon
import Foundation
import GRPCCore
import Imaging
import Services
import Store

struct ImportTally {
  var accepted = 0
  var duplicate = 0
  var rejected = 0
  /// The first few rejections: record position, id and reason.
  var reasons: [String] = []

  var detail: String { "accepted \(accepted) duplicate \(duplicate) rejected \(rejected)" }

  mutating func reject(_ index: Int, _ id: String?, _ reason: String) {
    rejected += 1
    if reasons.count < 10 {
      reasons.append("record \(index)\(id.map { " (id \($0))" } ?? ""): \(reason)")
    }
  }
}

struct FeedbackImporter {
  let store: SQLiteFeedbackStore
  let images: ImageFolder
  let probe: ImageProbe
  let batchSize: Int

  enum Layout: String, ExpressibleByArgument, CaseIterable {
    case auto, preferences, prompts
  }

  func run(file: String, layout: Layout) async throws -> ImportTally {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
      throw ImportFailure("cannot read \(file): \(error.localizedDescription)")
    }
    let records: [FeedbackFileRecord]
    do { records = try JSONDecoder().decode([FeedbackFileRecord].self, from: data) } catch {
      throw ImportFailure("\(file) is not a JSON list of records: \(error)")
    }
    let isPreferences =
      switch layout {
      case .preferences: true
      case .prompts: false
      case .auto: records.first?.isPreference ?? true
      }
    let name = URL(fileURLWithPath: file).lastPathComponent
    var tally = ImportTally()
    var progress = ProgressLine(
      label: "\(name) (\(isPreferences ? "preferences" : "prompts"))",
      total: records.count
    )
    progress.update(done: 0, detail: tally.detail)
    var start = 0
    while start < records.count {
      let end = min(start + batchSize, records.count)
      if isPreferences {
        await preferences(records, start..<end, file: name, &tally)
      } else {
        await prompts(records, start..<end, file: name, &tally)
      }
      progress.update(done: end, detail: tally.detail)
      start = end
    }
    return tally
  }

  private func preferences(
    _ records: [FeedbackFileRecord],
    _ range: Range<Int>,
    file: String,
    _ tally: inout ImportTally
  ) async {
    let (items, positions) = converted(records, range, file: file, &tally) { record, key in
      let message = try record.preferenceMessage(images: images, key: key)
      return try FeedbackIntake.preference(message, probe: probe).map { ($0, key) }
    }
    let results = await store.submitPreferences(items)
    count(results, positions, records, &tally)
  }

  private func prompts(
    _ records: [FeedbackFileRecord],
    _ range: Range<Int>,
    file: String,
    _ tally: inout ImportTally
  ) async {
    let (items, positions) = converted(records, range, file: file, &tally) { record, key in
      let message = try record.promptMessage(images: images, key: key)
      return try FeedbackIntake.prompts(message, limits: RequestLimits(), probe: probe)
        .map { ($0, key) }
    }
    let results = await store.submitPromptBatches(items)
    count(results, positions, records, &tally)
  }

  /// The records in `range` converted through the RPCs' validation, with their positions; a
  /// record that fails is counted as rejected, one that converts to nothing is skipped.
  private func converted<Item>(
    _ records: [FeedbackFileRecord],
    _ range: Range<Int>,
    file: String,
    _ tally: inout ImportTally,
    _ convert: (FeedbackFileRecord, String) throws -> Item?
  ) -> (items: [Item], positions: [Int]) {
    var items: [Item] = []
    var positions: [Int] = []
    for index in range {
      let record = records[index]
      do {
        guard let item = try convert(record, Self.key(file: file, id: record.id, index: index))
        else { continue }
        items.append(item)
        positions.append(index)
      } catch let error as RecordError {
        tally.reject(index, record.id, error.message)
      } catch {
        tally.reject(index, record.id, Self.describe(error))
      }
    }
    return (items, positions)
  }

  private func count(
    _ results: [Result<StoreAck, StoreError>],
    _ positions: [Int],
    _ records: [FeedbackFileRecord],
    _ tally: inout ImportTally
  ) {
    for (result, index) in zip(results, positions) {
      switch result {
      case .success(let ack) where ack.duplicate: tally.duplicate += 1
      case .success: tally.accepted += 1
      case .failure(let error):
        tally.reject(index, records[index].id, Self.describe(FeedbackIntake.rpcError(error)))
      }
    }
  }

  /// `import:FILE:ID` (the record's position when it has no id); hashed when over 128 bytes.
  static func key(file: String, id: String?, index: Int) -> String {
    let key = "import:\(file):\(id ?? "#\(index)")"
    if key.utf8.count <= 128 { return key }
    return "import:" + ImageFeatureKey(bytes: Array("\(file)\u{0}\(id ?? "#\(index)")".utf8)).hex
  }

  /// An RPC error as `INVALID_ARGUMENT: message` (what a client of the RPC would see).
  static func describe(_ error: any Error) -> String {
    guard let status = error as? RPCError else { return "\(error)" }
    var name = ""
    for character in "\(status.code)" {
      if character.isUppercase { name += "_" }
      name += character.uppercased()
    }
    return "\(name): \(status.message)"
  }
}

/// A failure of the whole import (a file that cannot be read), not of one record.
struct ImportFailure: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
