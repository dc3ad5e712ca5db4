from rlhfd_client._proto.rlhfd.v1 import feedback_pb2 as _feedback_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetModelInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("policy_model_name", "reward_model_name", "architecture", "context_length", "vocab_size", "image_size", "image_tokens", "policy_version", "reward_model_version", "daemon_version", "compute_kernels", "policy_versions")
    POLICY_MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    REWARD_MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    VOCAB_SIZE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    REWARD_MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    DAEMON_VERSION_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_KERNELS_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    policy_model_name: str
    reward_model_name: str
    architecture: str
    context_length: int
    vocab_size: int
    image_size: int
    image_tokens: int
    policy_version: str
    reward_model_version: str
    daemon_version: str
    compute_kernels: str
    policy_versions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, policy_model_name: _Optional[str] = ..., reward_model_name: _Optional[str] = ..., architecture: _Optional[str] = ..., context_length: _Optional[int] = ..., vocab_size: _Optional[int] = ..., image_size: _Optional[int] = ..., image_tokens: _Optional[int] = ..., policy_version: _Optional[str] = ..., reward_model_version: _Optional[str] = ..., daemon_version: _Optional[str] = ..., compute_kernels: _Optional[str] = ..., policy_versions: _Optional[_Iterable[str]] = ...) -> None: ...

class ListPolicyVersionsRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class PolicyVersion(_message.Message):
    __slots__ = ("version", "parent_version", "created_unix_ms", "step", "promoted", "mean_reward", "source", "adapter_path", "adapter_bytes")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PARENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_FIELD_NUMBER: _ClassVar[int]
    MEAN_REWARD_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_PATH_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_BYTES_FIELD_NUMBER: _ClassVar[int]
    version: str
    parent_version: str
    created_unix_ms: int
    step: int
    promoted: bool
    mean_reward: float
    source: str
    adapter_path: str
    adapter_bytes: int
    def __init__(self, version: _Optional[str] = ..., parent_version: _Optional[str] = ..., created_unix_ms: _Optional[int] = ..., step: _Optional[int] = ..., promoted: bool = ..., mean_reward: _Optional[float] = ..., source: _Optional[str] = ..., adapter_path: _Optional[str] = ..., adapter_bytes: _Optional[int] = ...) -> None: ...

class ListPolicyVersionsResponse(_message.Message):
    __slots__ = ("versions", "promoted_version")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[PolicyVersion]
    promoted_version: str
    def __init__(self, versions: _Optional[_Iterable[_Union[PolicyVersion, _Mapping]]] = ..., promoted_version: _Optional[str] = ...) -> None: ...

class PromotePolicyRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...

class PromotePolicyResponse(_message.Message):
    __slots__ = ("previous_version", "promoted_version")
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    previous_version: str
    promoted_version: str
    def __init__(self, previous_version: _Optional[str] = ..., promoted_version: _Optional[str] = ...) -> None: ...

class RollbackPolicyRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...

class RollbackPolicyResponse(_message.Message):
    __slots__ = ("previous_version", "promoted_version")
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    previous_version: str
    promoted_version: str
    def __init__(self, previous_version: _Optional[str] = ..., promoted_version: _Optional[str] = ...) -> None: ...

class PauseTrainingRequest(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class PauseTrainingResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _feedback_pb2.TrainingStatus
    def __init__(self, status: _Optional[_Union[_feedback_pb2.TrainingStatus, _Mapping]] = ...) -> None: ...

class ResumeTrainingRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResumeTrainingResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _feedback_pb2.TrainingStatus
    def __init__(self, status: _Optional[_Union[_feedback_pb2.TrainingStatus, _Mapping]] = ...) -> None: ...

class SaveCheckpointRequest(_message.Message):
    __slots__ = ("policy_version", "path")
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    policy_version: str
    path: str
    def __init__(self, policy_version: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class SaveCheckpointResponse(_message.Message):
    __slots__ = ("checkpoint",)
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    checkpoint: _feedback_pb2.CheckpointSaved
    def __init__(self, checkpoint: _Optional[_Union[_feedback_pb2.CheckpointSaved, _Mapping]] = ...) -> None: ...

class RegisterPolicyVersionRequest(_message.Message):
    __slots__ = ("version", "adapter_path", "parent_version")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_PATH_FIELD_NUMBER: _ClassVar[int]
    PARENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    adapter_path: str
    parent_version: str
    def __init__(self, version: _Optional[str] = ..., adapter_path: _Optional[str] = ..., parent_version: _Optional[str] = ...) -> None: ...

class RegisterPolicyVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: PolicyVersion
    def __init__(self, version: _Optional[_Union[PolicyVersion, _Mapping]] = ...) -> None: ...

class RetirePolicyVersionRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...

class RetirePolicyVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...
