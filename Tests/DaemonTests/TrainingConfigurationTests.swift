import Daemon
import Serving
import Testing
import Trainer
import Training

@Suite struct TrainingConfigurationTests {
  @Test func onByDefaultWithTheSmallPreset() throws {
    let configuration = try DaemonConfiguration.parse(yaml: "listen: ['127.0.0.1:0']")
    #expect(configuration.training.enabled)
    let options = try configuration.training.options()
    #expect(options.settings == TrainerSettings.small)
    #expect(!options.startPaused)
    #expect(options.preferencePrompts)
  }

  @Test func overridesMapToTheTrainerSettings() throws {
    let configuration = try DaemonConfiguration.parse(
      yaml: """
        training:
          preset: paper
          rollout_batch_size: 8
          step_batch_size: 4
          micro_batch_size: 2
          response_length: 64
          learning_rate: 0.001
          publish_every: 3
          auto_promote: true
          max_kl: 2.5
          compute_share: 0.5
          nice: 5
          compute_threads: 1
          reward_model_min_pairs: 4
          start_paused: true
          preference_prompts: false
        """
    )
    let o = try configuration.training.options()
    #expect(o.settings.ppo.rolloutBatchSize == 8)
    #expect(o.settings.ppo.responseLength == 64)
    #expect(o.settings.ppo.rewardWeights.lengthNormalizer == 64)
    #expect(o.settings.ppoOptimizer.learningRate == 0.001)
    #expect(o.settings.publishEvery == 3)
    #expect(o.settings.guardrails.autoPromote)
    #expect(o.settings.guardrails.maxKLToReference == 2.5)
    #expect(o.settings.rewardModel.minimumPairs == 4)
    #expect(o.computeShare == 0.5)
    #expect(o.niceness == 5 && o.computeThreads == 1)
    #expect(o.startPaused)
    #expect(!o.preferencePrompts)
    #expect(o.settings.ppo.klCoefficient == TrainerSettings.paper.ppo.klCoefficient)
  }

  @Test func unknownKeysAndBadValuesAreNamed() {
    #expect(throws: ConfigurationError.self) {
      try DaemonConfiguration.parse(yaml: "training: {rollout_batch: 4}")
    }
    do {
      _ = try DaemonConfiguration.parse(
        yaml: "training: {rollout_batch_size: 3, step_batch_size: 2}"
      )
      Issue.record("a rollout batch that is not a multiple of the step batch was accepted")
    } catch {
      #expect(error.message.contains("training."))
    }
    do {
      _ = try DaemonConfiguration.parse(yaml: "training: {preset: huge}")
      Issue.record("an unknown preset was accepted")
    } catch {
      #expect(error.message.contains("'training.preset'"))
    }
    do {
      _ = try DaemonConfiguration.parse(yaml: "training: {compute_share: 0}")
      Issue.record("a zero compute share was accepted")
    } catch {
      #expect(error.message.contains("training.compute_share"))
    }
    do {
      _ = try DaemonConfiguration.parse(yaml: "training: {nice: 20}")
      Issue.record("nice 20 was accepted")
    } catch {
      #expect(error.message.contains("training.nice"))
    }
  }
}
