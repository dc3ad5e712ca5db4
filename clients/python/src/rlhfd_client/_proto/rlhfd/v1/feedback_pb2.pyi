from rlhfd_client._proto.rlhfd.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TrainingState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRAINING_STATE_UNSPECIFIED: _ClassVar[TrainingState]
    TRAINING_STATE_DISABLED: _ClassVar[TrainingState]
    TRAINING_STATE_IDLE: _ClassVar[TrainingState]
    TRAINING_STATE_RUNNING: _ClassVar[TrainingState]
    TRAINING_STATE_PAUSED: _ClassVar[TrainingState]
    TRAINING_STATE_FAILED: _ClassVar[TrainingState]
TRAINING_STATE_UNSPECIFIED: TrainingState
TRAINING_STATE_DISABLED: TrainingState
TRAINING_STATE_IDLE: TrainingState
TRAINING_STATE_RUNNING: TrainingState
TRAINING_STATE_PAUSED: TrainingState
TRAINING_STATE_FAILED: TrainingState

class ResponseRef(_message.Message):
    __slots__ = ("text", "generation_id")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    text: str
    generation_id: str
    def __init__(self, text: _Optional[str] = ..., generation_id: _Optional[str] = ...) -> None: ...

class HallucinationFlags(_message.Message):
    __slots__ = ("response_1_hallucinated", "response_2_hallucinated", "dataset_flag")
    RESPONSE_1_HALLUCINATED_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_2_HALLUCINATED_FIELD_NUMBER: _ClassVar[int]
    DATASET_FLAG_FIELD_NUMBER: _ClassVar[int]
    response_1_hallucinated: bool
    response_2_hallucinated: bool
    dataset_flag: bool
    def __init__(self, response_1_hallucinated: bool = ..., response_2_hallucinated: bool = ..., dataset_flag: bool = ...) -> None: ...

class PreferenceFeedback(_message.Message):
    __slots__ = ("image", "prompt", "response_1", "response_2", "preferred", "hallucination", "facts", "idempotency_key")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_1_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_2_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_FIELD_NUMBER: _ClassVar[int]
    HALLUCINATION_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    image: _common_pb2.Image
    prompt: str
    response_1: ResponseRef
    response_2: ResponseRef
    preferred: int
    hallucination: HallucinationFlags
    facts: _common_pb2.Facts
    idempotency_key: str
    def __init__(self, image: _Optional[_Union[_common_pb2.Image, _Mapping]] = ..., prompt: _Optional[str] = ..., response_1: _Optional[_Union[ResponseRef, _Mapping]] = ..., response_2: _Optional[_Union[ResponseRef, _Mapping]] = ..., preferred: _Optional[int] = ..., hallucination: _Optional[_Union[HallucinationFlags, _Mapping]] = ..., facts: _Optional[_Union[_common_pb2.Facts, _Mapping]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class RlPrompt(_message.Message):
    __slots__ = ("image", "prompt", "facts", "length_bonus", "client_id")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    LENGTH_BONUS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    image: _common_pb2.Image
    prompt: str
    facts: _common_pb2.Facts
    length_bonus: float
    client_id: str
    def __init__(self, image: _Optional[_Union[_common_pb2.Image, _Mapping]] = ..., prompt: _Optional[str] = ..., facts: _Optional[_Union[_common_pb2.Facts, _Mapping]] = ..., length_bonus: _Optional[float] = ..., client_id: _Optional[str] = ...) -> None: ...

class PromptBatch(_message.Message):
    __slots__ = ("prompts", "idempotency_key")
    PROMPTS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    prompts: _containers.RepeatedCompositeFieldContainer[RlPrompt]
    idempotency_key: str
    def __init__(self, prompts: _Optional[_Iterable[_Union[RlPrompt, _Mapping]]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class RatingFeedback(_message.Message):
    __slots__ = ("generation_id", "score", "hallucinated", "idempotency_key")
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    HALLUCINATED_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    score: float
    hallucinated: bool
    idempotency_key: str
    def __init__(self, generation_id: _Optional[str] = ..., score: _Optional[float] = ..., hallucinated: bool = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class FeedbackAck(_message.Message):
    __slots__ = ("feedback_ids", "accepted", "duplicate")
    FEEDBACK_IDS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    feedback_ids: _containers.RepeatedScalarFieldContainer[str]
    accepted: int
    duplicate: bool
    def __init__(self, feedback_ids: _Optional[_Iterable[str]] = ..., accepted: _Optional[int] = ..., duplicate: bool = ...) -> None: ...

class TrainingStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TrainingStatus(_message.Message):
    __slots__ = ("state", "message", "step", "promoted_policy_version", "latest_policy_version", "reward_model_version", "pending_preferences", "pending_prompts", "pending_ratings", "last_mean_reward", "last_step_unix_ms")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    LATEST_POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    REWARD_MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PENDING_PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    PENDING_PROMPTS_FIELD_NUMBER: _ClassVar[int]
    PENDING_RATINGS_FIELD_NUMBER: _ClassVar[int]
    LAST_MEAN_REWARD_FIELD_NUMBER: _ClassVar[int]
    LAST_STEP_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    state: TrainingState
    message: str
    step: int
    promoted_policy_version: str
    latest_policy_version: str
    reward_model_version: str
    pending_preferences: int
    pending_prompts: int
    pending_ratings: int
    last_mean_reward: float
    last_step_unix_ms: int
    def __init__(self, state: _Optional[_Union[TrainingState, str]] = ..., message: _Optional[str] = ..., step: _Optional[int] = ..., promoted_policy_version: _Optional[str] = ..., latest_policy_version: _Optional[str] = ..., reward_model_version: _Optional[str] = ..., pending_preferences: _Optional[int] = ..., pending_prompts: _Optional[int] = ..., pending_ratings: _Optional[int] = ..., last_mean_reward: _Optional[float] = ..., last_step_unix_ms: _Optional[int] = ...) -> None: ...

class WatchTrainingRequest(_message.Message):
    __slots__ = ("send_initial_status",)
    SEND_INITIAL_STATUS_FIELD_NUMBER: _ClassVar[int]
    send_initial_status: bool
    def __init__(self, send_initial_status: bool = ...) -> None: ...

class TrainingStep(_message.Message):
    __slots__ = ("step", "rollouts", "mean_reward", "kl", "policy_loss", "value_loss", "step_time_ms", "reward_std", "clip_fraction", "entropy", "approx_kl", "grad_norm", "learning_rate", "tokens")
    STEP_FIELD_NUMBER: _ClassVar[int]
    ROLLOUTS_FIELD_NUMBER: _ClassVar[int]
    MEAN_REWARD_FIELD_NUMBER: _ClassVar[int]
    KL_FIELD_NUMBER: _ClassVar[int]
    POLICY_LOSS_FIELD_NUMBER: _ClassVar[int]
    VALUE_LOSS_FIELD_NUMBER: _ClassVar[int]
    STEP_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    REWARD_STD_FIELD_NUMBER: _ClassVar[int]
    CLIP_FRACTION_FIELD_NUMBER: _ClassVar[int]
    ENTROPY_FIELD_NUMBER: _ClassVar[int]
    APPROX_KL_FIELD_NUMBER: _ClassVar[int]
    GRAD_NORM_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    step: int
    rollouts: int
    mean_reward: float
    kl: float
    policy_loss: float
    value_loss: float
    step_time_ms: float
    reward_std: float
    clip_fraction: float
    entropy: float
    approx_kl: float
    grad_norm: float
    learning_rate: float
    tokens: int
    def __init__(self, step: _Optional[int] = ..., rollouts: _Optional[int] = ..., mean_reward: _Optional[float] = ..., kl: _Optional[float] = ..., policy_loss: _Optional[float] = ..., value_loss: _Optional[float] = ..., step_time_ms: _Optional[float] = ..., reward_std: _Optional[float] = ..., clip_fraction: _Optional[float] = ..., entropy: _Optional[float] = ..., approx_kl: _Optional[float] = ..., grad_norm: _Optional[float] = ..., learning_rate: _Optional[float] = ..., tokens: _Optional[int] = ...) -> None: ...

class RolloutProgress(_message.Message):
    __slots__ = ("step", "done", "total")
    STEP_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    step: int
    done: int
    total: int
    def __init__(self, step: _Optional[int] = ..., done: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class RewardModelUpdated(_message.Message):
    __slots__ = ("reward_model_version", "parent_version", "train_pairs", "held_out_pairs", "held_out_accuracy", "previous_held_out_accuracy", "adopted", "reason")
    REWARD_MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PARENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRAIN_PAIRS_FIELD_NUMBER: _ClassVar[int]
    HELD_OUT_PAIRS_FIELD_NUMBER: _ClassVar[int]
    HELD_OUT_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_HELD_OUT_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    ADOPTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    reward_model_version: str
    parent_version: str
    train_pairs: int
    held_out_pairs: int
    held_out_accuracy: float
    previous_held_out_accuracy: float
    adopted: bool
    reason: str
    def __init__(self, reward_model_version: _Optional[str] = ..., parent_version: _Optional[str] = ..., train_pairs: _Optional[int] = ..., held_out_pairs: _Optional[int] = ..., held_out_accuracy: _Optional[float] = ..., previous_held_out_accuracy: _Optional[float] = ..., adopted: bool = ..., reason: _Optional[str] = ...) -> None: ...

class PolicyPromotionChanged(_message.Message):
    __slots__ = ("from_version", "to_version", "rolled_back", "reason")
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    ROLLED_BACK_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    from_version: str
    to_version: str
    rolled_back: bool
    reason: str
    def __init__(self, from_version: _Optional[str] = ..., to_version: _Optional[str] = ..., rolled_back: bool = ..., reason: _Optional[str] = ...) -> None: ...

class PolicyPublished(_message.Message):
    __slots__ = ("policy_version", "parent_version", "step", "promoted")
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    PARENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_FIELD_NUMBER: _ClassVar[int]
    policy_version: str
    parent_version: str
    step: int
    promoted: bool
    def __init__(self, policy_version: _Optional[str] = ..., parent_version: _Optional[str] = ..., step: _Optional[int] = ..., promoted: bool = ...) -> None: ...

class CheckpointSaved(_message.Message):
    __slots__ = ("checkpoint_id", "path", "policy_version")
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    checkpoint_id: str
    path: str
    policy_version: str
    def __init__(self, checkpoint_id: _Optional[str] = ..., path: _Optional[str] = ..., policy_version: _Optional[str] = ...) -> None: ...

class TrainingEvent(_message.Message):
    __slots__ = ("sequence", "time_unix_ms", "status", "step", "policy_published", "checkpoint_saved", "rollouts", "reward_model_updated", "promotion_changed")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    POLICY_PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_SAVED_FIELD_NUMBER: _ClassVar[int]
    ROLLOUTS_FIELD_NUMBER: _ClassVar[int]
    REWARD_MODEL_UPDATED_FIELD_NUMBER: _ClassVar[int]
    PROMOTION_CHANGED_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    time_unix_ms: int
    status: TrainingStatus
    step: TrainingStep
    policy_published: PolicyPublished
    checkpoint_saved: CheckpointSaved
    rollouts: RolloutProgress
    reward_model_updated: RewardModelUpdated
    promotion_changed: PolicyPromotionChanged
    def __init__(self, sequence: _Optional[int] = ..., time_unix_ms: _Optional[int] = ..., status: _Optional[_Union[TrainingStatus, _Mapping]] = ..., step: _Optional[_Union[TrainingStep, _Mapping]] = ..., policy_published: _Optional[_Union[PolicyPublished, _Mapping]] = ..., checkpoint_saved: _Optional[_Union[CheckpointSaved, _Mapping]] = ..., rollouts: _Optional[_Union[RolloutProgress, _Mapping]] = ..., reward_model_updated: _Optional[_Union[RewardModelUpdated, _Mapping]] = ..., promotion_changed: _Optional[_Union[PolicyPromotionChanged, _Mapping]] = ...) -> None: ...
