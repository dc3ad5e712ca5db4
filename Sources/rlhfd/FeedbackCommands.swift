// `rlhfd import` and `rlhfd export`: feedback files in and out of the store file, offline (the
// daemon must be stopped: the store's lock file refuses a second process with a clear error).
// The store is the one the configuration names (`--config`, `--feedback-store`,
// `--state-directory`); images are checked against its image limits.
import ArgumentParser
import Daemon
import Foundation
import Store

struct Import: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Import LLaVA-RLHF preference / RL-prompt JSON files into the feedback store.",
    discussion: """
      Reads LLaVA-Human-Preference-10K's layout (id, image, conversations, output_1, output_2, \
      preference, hallucination[, hallucination_1, hallucination_2, captions]) and the RL-prompt \
      layout (id, image, conversations, captions, caption_type, length_bonus[, choices, \
      correct_choice, yes_no_answer]); `image` names a file in --images. Records go through the \
      same validation as the Feedback RPCs; importing a file again stores nothing new (the \
      idempotency key of a record is its file name and id). Exit status: 0 all stored or \
      duplicates, 1 some records rejected, 2 the import could not run. Stop the daemon first.
      """
  )

  @OptionGroup var options: ConfigurationOptions

  @Option(name: .long, help: "Folder the records' `image` names are relative to.")
  var images: String

  @Option(
    name: .long,
    help: "Layout of the files: auto (by their first record), preferences, prompts."
  )
  var layout: FeedbackImporter.Layout = .auto

  @Option(name: .long, help: "Records per batch (validated together, stored in shared commits).")
  var batchSize = 256

  @Argument(help: "JSON files (a list of records each).")
  var files: [String]

  func validate() throws {
    if files.isEmpty { throw ValidationError("give at least one JSON file") }
    if !(1...10000).contains(batchSize) { throw ValidationError("--batch-size must be 1...10000") }
  }

  func run() async throws {
    let configuration = try options.resolvedForCommandLine()
    let store = try openStore(configuration)
    defer { store.shutdown() }
    let importer = FeedbackImporter(
      store: store,
      images: ImageFolder(path: images),
      probe: Daemon.imageProbe(configuration),
      batchSize: batchSize
    )
    var rejected = 0
    for file in files {
      let tally: ImportTally
      do { tally = try await importer.run(file: file, layout: layout) } catch {
        fail("\(error)")
      }
      print(
        "\(file): \(tally.accepted) accepted, \(tally.duplicate) duplicate, \(tally.rejected) rejected"
      )
      for reason in tally.reasons { print("  rejected \(reason)") }
      if tally.rejected > tally.reasons.count {
        print("  ... and \(tally.rejected - tally.reasons.count) more rejected")
      }
      rejected += tally.rejected
    }
    if rejected > 0 { throw ExitCode(1) }
  }
}

struct Export: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Export the feedback store's preferences and RL prompts as LLaVA-RLHF JSON.",
    discussion: """
      Writes OUT/preferences.json (LLaVA-Human-Preference-10K's layout), OUT/rl_prompts.json \
      (the RL-prompt layout) and OUT/images/<sha256>.<png|jpg>; `rlhfd import --images \
      OUT/images OUT/preferences.json OUT/rl_prompts.json` stores the same feedback again. \
      Responses given as generation ids are written as the generations' text. Stop the daemon \
      first.
      """
  )

  @OptionGroup var options: ConfigurationOptions

  @Option(name: .long, help: "Output folder (created if missing).")
  var out: String

  func run() async throws {
    let configuration = try options.resolvedForCommandLine()
    let store = try openStore(configuration)
    defer { store.shutdown() }
    let exporter = FeedbackExporter(store: store, directory: URL(fileURLWithPath: out))
    do {
      let counts = try exporter.run()
      print(
        "\(out): \(counts.preferences) preferences, \(counts.prompts) RL prompts, "
          + "\(counts.images) images"
      )
    } catch { fail("cannot export to \(out): \(error)") }
  }
}

/// The configured store, opened by this process (an error if the daemon holds it).
func openStore(_ configuration: DaemonConfiguration) throws -> SQLiteFeedbackStore {
  guard let path = configuration.feedbackStorePath else {
    fail("no feedback store is configured ('feedback_store: none')")
  }
  let parent = URL(fileURLWithPath: path).deletingLastPathComponent()
  try? FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
  do { return try SQLiteFeedbackStore(path: path) } catch {
    let hint = error.message.contains("in use") ? "; stop the daemon first" : ""
    fail("\(error.message)\(hint)")
  }
}

/// Reports an error that stops the command, exit status 2.
func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("rlhfd: error: \(message)\n".utf8))
  exit(2)
}
