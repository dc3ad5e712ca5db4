from rlhfd_client._proto.rlhfd.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScoreRequest(_message.Message):
    __slots__ = ("prompt", "image", "responses", "facts", "generation_ids", "priority")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    RESPONSES_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_IDS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    image: _common_pb2.Image
    responses: _containers.RepeatedScalarFieldContainer[str]
    facts: _common_pb2.Facts
    generation_ids: _containers.RepeatedScalarFieldContainer[str]
    priority: _common_pb2.Priority
    def __init__(self, prompt: _Optional[str] = ..., image: _Optional[_Union[_common_pb2.Image, _Mapping]] = ..., responses: _Optional[_Iterable[str]] = ..., facts: _Optional[_Union[_common_pb2.Facts, _Mapping]] = ..., generation_ids: _Optional[_Iterable[str]] = ..., priority: _Optional[_Union[_common_pb2.Priority, str]] = ...) -> None: ...

class RewardBreakdown(_message.Message):
    __slots__ = ("total", "model_score", "correctness", "length_penalty", "eos_penalty")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    MODEL_SCORE_FIELD_NUMBER: _ClassVar[int]
    CORRECTNESS_FIELD_NUMBER: _ClassVar[int]
    LENGTH_PENALTY_FIELD_NUMBER: _ClassVar[int]
    EOS_PENALTY_FIELD_NUMBER: _ClassVar[int]
    total: float
    model_score: float
    correctness: float
    length_penalty: float
    eos_penalty: float
    def __init__(self, total: _Optional[float] = ..., model_score: _Optional[float] = ..., correctness: _Optional[float] = ..., length_penalty: _Optional[float] = ..., eos_penalty: _Optional[float] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("rewards", "reward_model_version", "usage")
    REWARDS_FIELD_NUMBER: _ClassVar[int]
    REWARD_MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    rewards: _containers.RepeatedCompositeFieldContainer[RewardBreakdown]
    reward_model_version: str
    usage: _common_pb2.Usage
    def __init__(self, rewards: _Optional[_Iterable[_Union[RewardBreakdown, _Mapping]]] = ..., reward_model_version: _Optional[str] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ...) -> None: ...
