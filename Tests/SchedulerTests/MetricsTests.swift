// Metrics go to the factory injected through the configuration, so these tests run in parallel
// with everything else without touching the global MetricsSystem.
import Metrics
import MetricsTestKit
import Scheduler
import Testing

@Suite struct MetricsTests {
  @Test func stepsRecordTokensLatenciesGaugesAndRejections() throws {
    let metrics = TestMetrics()
    var configuration = config(blockCount: 8, maxRunning: 2)
    configuration.maxWaitingRequests = 0
    configuration.name = "reward"
    configuration.metricsFactory = metrics
    let driver = Driver(configuration, tokens: { _ in 20 })
    try driver.submit(request(1, count: 8), request(2, count: 8, base: 100))
    driver.step()
    // Both run and the queue may hold no more.
    #expect(throws: AdmissionError.self) { try driver.submit(request(3, count: 4)) }
    driver.drain()
    let snapshot = driver.core.snapshot
    let model = [("model", "reward")]

    let prefill = try metrics.expectCounter(
      "rlhfd_scheduler_tokens_total",
      model + [("kind", "prefill")]
    )
    let decode = try metrics.expectCounter(
      "rlhfd_scheduler_tokens_total",
      model + [("kind", "decode")]
    )
    #expect(prefill.totalValue == Int64(snapshot.prefillPositions))
    #expect(decode.totalValue == Int64(snapshot.decodePositions))
    #expect(prefill.totalValue + decode.totalValue == Int64(snapshot.computedPositions))

    let rejected = try metrics.expectCounter(
      "rlhfd_scheduler_rejections_total",
      model + [("reason", "queue_full")]
    )
    #expect(rejected.totalValue == 1)
    let preemptions = try metrics.expectCounter("rlhfd_scheduler_preemptions_total", model)
    #expect(preemptions.totalValue == Int64(snapshot.preemptions) && snapshot.preemptions > 0)

    // Submitted at step 0, first outputs at step 1 (the driver's clock: one second per step).
    let firstToken = try metrics.expectTimer("rlhfd_scheduler_time_to_first_token_seconds", model)
    #expect(firstToken.values == [1_000_000_000, 1_000_000_000])
    let interToken = try metrics.expectTimer("rlhfd_scheduler_inter_token_latency_seconds", model)
    #expect(interToken.values.count == 2 * 19)
    let steps = try metrics.expectTimer("rlhfd_scheduler_step_seconds", model)
    #expect(steps.values.count == snapshot.steps)

    let used = try metrics.expectGauge("rlhfd_scheduler_kv_blocks_used", model)
    #expect(used.values.contains { $0 > 0 } && used.lastValue == 0)
    let running = try metrics.expectGauge("rlhfd_scheduler_running", model)
    #expect(running.values.max() == 2 && running.lastValue == 0)
    let queue = try metrics.expectGauge("rlhfd_scheduler_queue_depth", model)
    #expect(queue.values.contains(2) && queue.lastValue == 0)
  }
}
