/// The Vicuna-v1 conversation template (LLaVA's `conv_vicuna_v1` / `conv_llava_v1`, separator
/// style TWO: `sep = " "`, `sep2 = "</s>"`), as LLaVA-1.5 and LLaVA-RLHF render it:
///
///     {system} USER: <image>\n{prompt} ASSISTANT:
///
/// Earlier turns render as `USER: {q} ASSISTANT: {a}</s>` (no space after `</s>`, exactly as
/// LLaVA's `get_prompt`). BOS is not part of the text: `encode(_:addBOS:)` prepends it.
public struct ChatTemplate: Sendable, Hashable {
  /// LLaVA-1.5's system prompt (`conv_llava_v1`, the eval scripts' `--conv-mode llava_v1`).
  public static let llava15SystemPrompt =
    "A chat between a curious human and an artificial intelligence assistant. "
    + "The assistant gives helpful, detailed, and polite answers to the human's questions."
  /// Vicuna-v1's system prompt (`conv_vicuna_v1`), which LLaVA-RLHF's training code uses.
  public static let vicunaV1SystemPrompt =
    "A chat between a curious user and an artificial intelligence assistant. "
    + "The assistant gives helpful, detailed, and polite answers to the user's questions."

  /// LLaVA-1.5 (the default).
  public static let llava15 = ChatTemplate(systemPrompt: llava15SystemPrompt)
  /// LLaVA-RLHF's policy and reward-model training template.
  public static let llavaRLHF = ChatTemplate(systemPrompt: vicunaV1SystemPrompt)

  /// One finished exchange before the current prompt.
  public struct Turn: Sendable, Hashable {
    public var user: String
    public var assistant: String

    public init(user: String, assistant: String) {
      self.user = user
      self.assistant = assistant
    }
  }

  /// What to render.
  public enum Prompt: Sendable, Hashable {
    /// A user prompt with `imageCount` images, each an `<image>` line before the text, after
    /// the finished `history` turns; the first turn carries the images.
    case chat(_ prompt: String, imageCount: Int = 1, history: [Turn] = [])
    /// Text already in template form, used as is.
    case raw(String)
  }

  public var systemPrompt: String
  public var userRole = "USER"
  public var assistantRole = "ASSISTANT"
  public var imageToken = "<image>"
  /// Separator after the system prompt and after user messages.
  public var separator = " "
  /// Separator after assistant messages (`</s>`, matched as EOS by the tokenizer).
  public var turnTerminator = "</s>"

  public init(systemPrompt: String = ChatTemplate.llava15SystemPrompt) {
    self.systemPrompt = systemPrompt
  }

  /// The prompt text, ending at `ASSISTANT:` for chat prompts.
  public func render(_ prompt: Prompt) -> String {
    switch prompt {
    case .raw(let text):
      return text
    case .chat(let text, let imageCount, let history):
      let images = String(repeating: imageToken + "\n", count: max(imageCount, 0))
      var messages: [String] = []
      for (index, turn) in history.enumerated() {
        messages += [index == 0 ? images + turn.user : turn.user, turn.assistant]
      }
      messages.append(history.isEmpty ? images + text : text)
      var out = systemPrompt.isEmpty ? "" : systemPrompt + separator
      for (index, message) in messages.enumerated() {
        let isUser = index % 2 == 0
        out += (isUser ? userRole : assistantRole) + ": " + message
        out += isUser ? separator : turnTerminator
      }
      return out + assistantRole + ":"
    }
  }

  /// Renders and tokenizes with BOS prepended.
  public func encode(
    _ prompt: Prompt,
    with tokenizer: SentencePieceTokenizer
  ) throws(TokenizerError) -> [TokenID] {
    try tokenizer.encode(render(prompt), addBOS: true)
  }
}
