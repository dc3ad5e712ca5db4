"""A small typed client for the rlhfd gRPC API (package ``rlhfd.v1``).

Calls raise :class:`grpc.RpcError` on failure (``err.code()``, ``err.details()``); the raw
generated stubs are available as ``client.policy``, ``.reward``, ``.feedback``, ``.admin``,
``.debug`` and ``.health_stub`` for anything the helpers don't cover.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import (TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, Union)

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from rlhfd_client._proto.rlhfd.v1 import admin_pb2, admin_pb2_grpc, common_pb2, debug_pb2_grpc
from rlhfd_client._proto.rlhfd.v1 import feedback_pb2, feedback_pb2_grpc, policy_pb2
from rlhfd_client._proto.rlhfd.v1 import policy_pb2_grpc, reward_pb2, reward_pb2_grpc

if TYPE_CHECKING:
    from typing_extensions import TypedDict, Unpack

    class SamplingOptions(TypedDict, total=False):
        """Keyword arguments accepted as ``**sampling`` (fields of ``SamplingParams``)."""

        max_new_tokens: int
        temperature: float
        top_p: float
        top_k: int
        repetition_penalty: float
        stop: Sequence[str]
        seed: int
        logprobs: bool


#: An image: encoded PNG/JPEG bytes, a file path, ``"sha256:<hex>"`` (or a bare 64-character
#: hex digest that is not an existing file) naming an image sent before, or an ``Image``.
ImageLike = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", common_pb2.Image]
#: Facts about an image: a ``Facts`` message or a mapping of its fields (``captions``,
#: ``choices``, ``correct_choice``, ``yes_no_answer``); ``None`` values are left unset.
FactsLike = Union[common_pb2.Facts, Mapping[str, Any]]
#: A response being judged: its text, or a ``ResponseRef`` (see :func:`generation_ref`).
ResponseLike = Union[str, feedback_pb2.ResponseRef]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SAMPLING_FIELDS = frozenset(common_pb2.SamplingParams.DESCRIPTOR.fields_by_name)


def image_sha256(data: bytes) -> str:
    """The hex SHA-256 the daemon uses to name an image's bytes."""
    return hashlib.sha256(data).hexdigest()


def to_image(image: ImageLike) -> common_pb2.Image:
    """Converts an :data:`ImageLike` to an ``Image`` message (reading files eagerly)."""
    if isinstance(image, common_pb2.Image):
        return image
    if isinstance(image, (bytes, bytearray, memoryview)):
        return common_pb2.Image(data=bytes(image))
    if isinstance(image, str):
        if image.startswith("sha256:"):
            return common_pb2.Image(sha256=image[len("sha256:"):].lower())
        if _HEX64.match(image) and not os.path.exists(image):
            return common_pb2.Image(sha256=image)
    with open(image, "rb") as f:
        return common_pb2.Image(data=f.read())


def to_facts(facts: Optional[FactsLike]) -> Optional[common_pb2.Facts]:
    """Converts a mapping to a ``Facts`` message, dropping ``None`` values."""
    if facts is None or isinstance(facts, common_pb2.Facts):
        return facts
    return common_pb2.Facts(**{k: v for k, v in facts.items() if v is not None})


def generation_ref(generation_id: str) -> feedback_pb2.ResponseRef:
    """A ``ResponseRef`` pointing at a stored generation (``GenerateResponse.generation_id``)."""
    return feedback_pb2.ResponseRef(generation_id=generation_id)


def _response_ref(response: ResponseLike) -> feedback_pb2.ResponseRef:
    if isinstance(response, feedback_pb2.ResponseRef):
        return response
    return feedback_pb2.ResponseRef(text=response)


def _read_pem(value: Union[bytes, str, "os.PathLike[str]", None]) -> Optional[bytes]:
    """PEM bytes as given, or read from a path."""
    if value is None or isinstance(value, bytes):
        return value
    with open(value, "rb") as f:
        return f.read()


class RlhfdClient:
    """A blocking client for one rlhfd daemon.

    Args:
        target: ``"host:port"`` (e.g. ``"127.0.0.1:50051"``) or ``"unix:/path/to.sock"``.
        root_certificates: PEM (bytes or path) of the CA that signed the server's certificate.
            Giving this, ``certificate_chain`` or ``tls=True`` makes the channel use TLS.
        private_key / certificate_chain: the client's key and certificate (PEM bytes or paths)
            for mutual TLS.
        tls: use TLS with the system's root certificates.
        server_name: override the TLS host name checked against the certificate.
        max_message_bytes: maximum message size sent and received (default 64 MiB).
        timeout: default deadline in seconds for unary calls and ``generate_stream``
            (``None`` = no deadline). Each method also takes ``timeout=``.
        metadata: extra (key, value) metadata sent with every call.
        channel_options: extra gRPC channel arguments, e.g.
            ``[("grpc.max_reconnect_backoff_ms", 2000)]``.
    """

    def __init__(
        self,
        target: str,
        *,
        root_certificates: Union[bytes, str, "os.PathLike[str]", None] = None,
        private_key: Union[bytes, str, "os.PathLike[str]", None] = None,
        certificate_chain: Union[bytes, str, "os.PathLike[str]", None] = None,
        tls: bool = False,
        server_name: Optional[str] = None,
        max_message_bytes: int = 64 * 1024 * 1024,
        timeout: Optional[float] = 30.0,
        metadata: Sequence[Tuple[str, str]] = (),
        channel_options: Sequence[Tuple[str, Any]] = (),
    ) -> None:
        options: List[Tuple[str, Any]] = [
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
            *channel_options,
        ]
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        if tls or root_certificates is not None or certificate_chain is not None:
            creds = grpc.ssl_channel_credentials(
                root_certificates=_read_pem(root_certificates),
                private_key=_read_pem(private_key),
                certificate_chain=_read_pem(certificate_chain),
            )
            self.channel = grpc.secure_channel(target, creds, options=options)
        else:
            self.channel = grpc.insecure_channel(target, options=options)
        self.timeout = timeout
        self.metadata = tuple(metadata)
        self.policy = policy_pb2_grpc.PolicyStub(self.channel)
        self.reward = reward_pb2_grpc.RewardStub(self.channel)
        self.feedback = feedback_pb2_grpc.FeedbackStub(self.channel)
        self.admin = admin_pb2_grpc.AdminStub(self.channel)
        self.debug = debug_pb2_grpc.DebugStub(self.channel)
        self.health_stub = health_pb2_grpc.HealthStub(self.channel)

    # -- plumbing ----------------------------------------------------------------------------
    def _kw(self, timeout: Optional[float]) -> Dict[str, Any]:
        return {"timeout": self.timeout if timeout is None else timeout, "metadata": self.metadata}

    def close(self) -> None:
        """Closes the channel; in-flight calls are cancelled."""
        self.channel.close()

    def __enter__(self) -> "RlhfdClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Blocks until the channel is connected (raises ``grpc.FutureTimeoutError``)."""
        grpc.channel_ready_future(self.channel).result(timeout=timeout)

    # -- Policy ------------------------------------------------------------------------------
    def _generate_request(
        self, prompt: str, images: Iterable[ImageLike], policy_version: str, raw_prompt: bool,
        batch: bool, sampling: Mapping[str, Any],
    ) -> policy_pb2.GenerateRequest:
        unknown = set(sampling) - _SAMPLING_FIELDS
        if unknown:
            raise TypeError(f"unknown sampling parameter(s): {', '.join(sorted(unknown))}")
        params = common_pb2.SamplingParams(**{k: v for k, v in sampling.items() if v is not None})
        return policy_pb2.GenerateRequest(
            prompt=prompt, images=[to_image(i) for i in images], sampling=params,
            policy_version=policy_version, raw_prompt=raw_prompt, priority=_priority(batch),
        )

    def generate(
        self, prompt: str, images: Iterable[ImageLike] = (), *, policy_version: str = "",
        raw_prompt: bool = False, batch: bool = False, timeout: Optional[float] = None,
        **sampling: Unpack[SamplingOptions],
    ) -> policy_pb2.GenerateResponse:
        """Generates a completion. ``sampling`` are ``SamplingParams`` fields, e.g.
        ``max_new_tokens=64, temperature=0.7, top_p=0.9, seed=1, stop=["\\n"], logprobs=True``
        (defaults: greedy, the daemon's default length). ``batch=True`` sends it with
        ``PRIORITY_BATCH``: it waits while interactive requests wait (training rollouts)."""
        request = self._generate_request(
            prompt, images, policy_version, raw_prompt, batch, sampling
        )
        return self.policy.Generate(request, **self._kw(timeout))

    def generate_stream(
        self, prompt: str, images: Iterable[ImageLike] = (), *, policy_version: str = "",
        raw_prompt: bool = False, batch: bool = False, timeout: Optional[float] = None,
        **sampling: Unpack[SamplingOptions],
    ) -> Iterator[policy_pb2.GenerateChunk]:
        """Like :meth:`generate`, but yields ``GenerateChunk`` messages as text is decoded; the
        last one has ``final`` set. The returned iterator is a grpc call: ``.cancel()`` stops
        the generation."""
        request = self._generate_request(
            prompt, images, policy_version, raw_prompt, batch, sampling
        )
        return self.policy.GenerateStream(request, **self._kw(timeout))

    # -- Reward ------------------------------------------------------------------------------
    def score(
        self, prompt: str, image: Optional[ImageLike], responses: Sequence[str] = (),
        facts: Optional[FactsLike] = None, *, generation_ids: Sequence[str] = (),
        batch: bool = False, timeout: Optional[float] = None,
    ) -> reward_pb2.ScoreResponse:
        """Scores ``responses`` (or stored ``generation_ids``) to ``prompt`` about ``image``;
        ``response.rewards[i].total`` is the reward of the i-th one. The candidates run
        together, computing their shared image and prompt once; ``batch=True`` as in
        :meth:`generate`."""
        request = reward_pb2.ScoreRequest(
            prompt=prompt, image=to_image(image) if image is not None else None,
            responses=list(responses), facts=to_facts(facts), generation_ids=list(generation_ids),
            priority=_priority(batch),
        )
        return self.reward.Score(request, **self._kw(timeout))

    # -- Feedback ----------------------------------------------------------------------------
    def submit_preference(
        self, prompt: str, image: ImageLike, response_1: ResponseLike, response_2: ResponseLike,
        preferred: int, *, hallucination: Union[feedback_pb2.HallucinationFlags,
                                                Mapping[str, bool], None] = None,
        facts: Optional[FactsLike] = None, idempotency_key: str = "",
        timeout: Optional[float] = None,
    ) -> feedback_pb2.FeedbackAck:
        """Records that response ``preferred`` (1 or 2) is better (fewer hallucinations, then
        more helpful). Responses are texts or :func:`generation_ref` values. Resending with the
        same ``idempotency_key`` stores nothing new and returns ``duplicate=True``."""
        if isinstance(hallucination, Mapping):
            hallucination = feedback_pb2.HallucinationFlags(**hallucination)
        request = feedback_pb2.PreferenceFeedback(
            image=to_image(image), prompt=prompt, response_1=_response_ref(response_1),
            response_2=_response_ref(response_2), preferred=preferred,
            hallucination=hallucination, facts=to_facts(facts), idempotency_key=idempotency_key,
        )
        return self.feedback.SubmitPreference(request, **self._kw(timeout))

    def submit_prompts(
        self, prompts: Iterable[Union[feedback_pb2.RlPrompt, Mapping[str, Any]]], *,
        idempotency_key: str = "", timeout: Optional[float] = None,
    ) -> feedback_pb2.FeedbackAck:
        """Stores RL prompts for PPO rollouts, all or none. Each is an ``RlPrompt`` or a mapping
        with ``image`` (:data:`ImageLike`), ``prompt``, and optionally ``facts``,
        ``length_bonus``, ``client_id``."""
        items = []
        for p in prompts:
            if not isinstance(p, feedback_pb2.RlPrompt):
                fields = {k: v for k, v in p.items() if v is not None}
                fields["image"] = to_image(fields["image"])
                fields["facts"] = to_facts(fields.get("facts"))
                p = feedback_pb2.RlPrompt(**fields)
            items.append(p)
        request = feedback_pb2.PromptBatch(prompts=items, idempotency_key=idempotency_key)
        return self.feedback.SubmitPrompts(request, **self._kw(timeout))

    def submit_rating(
        self, generation_id: str, score: float, *, hallucinated: Optional[bool] = None,
        idempotency_key: str = "", timeout: Optional[float] = None,
    ) -> feedback_pb2.FeedbackAck:
        """Rates a stored generation with a reward in [-1, 1] (thumbs up = 1, down = -1)."""
        request = feedback_pb2.RatingFeedback(
            generation_id=generation_id, score=score, idempotency_key=idempotency_key)
        if hallucinated is not None:
            request.hallucinated = hallucinated
        return self.feedback.SubmitRating(request, **self._kw(timeout))

    def training_status(self, *, timeout: Optional[float] = None) -> feedback_pb2.TrainingStatus:
        """A snapshot of the online trainer's state."""
        return self.feedback.GetTrainingStatus(feedback_pb2.TrainingStatusRequest(),
                                               **self._kw(timeout))

    def watch_training(self, *, send_initial_status: bool = True,
                       timeout: Optional[float] = None) -> Iterator[feedback_pb2.TrainingEvent]:
        """Streams ``TrainingEvent`` messages until cancelled (no deadline unless given)."""
        request = feedback_pb2.WatchTrainingRequest(send_initial_status=send_initial_status)
        return self.feedback.WatchTraining(request, timeout=timeout, metadata=self.metadata)

    # -- Admin / health ----------------------------------------------------------------------
    def model_info(self, *, timeout: Optional[float] = None) -> admin_pb2.ModelInfo:
        """Names, sizes and versions of the served models and the daemon."""
        return self.admin.GetModelInfo(admin_pb2.GetModelInfoRequest(), **self._kw(timeout))

    def list_policy_versions(
        self, *, limit: int = 0, timeout: Optional[float] = None,
    ) -> admin_pb2.ListPolicyVersionsResponse:
        """The served policy versions, newest first (``limit`` 0 = all), and
        ``promoted_version``, the one ``policy_version=""`` runs on."""
        return self.admin.ListPolicyVersions(admin_pb2.ListPolicyVersionsRequest(limit=limit),
                                             **self._kw(timeout))

    def register_policy_version(
        self, version: str, adapter_path: str, *, parent_version: str = "",
        timeout: Optional[float] = None,
    ) -> admin_pb2.PolicyVersion:
        """Serves the PEFT LoRA adapter directory ``adapter_path`` (an absolute path on the
        daemon's host) as the new version ``version`` (not promoted). ``ALREADY_EXISTS`` if the
        id was ever used, ``NOT_FOUND`` for a missing directory or parent, ``INVALID_ARGUMENT``
        for an adapter that does not fit the base model."""
        request = admin_pb2.RegisterPolicyVersionRequest(
            version=version, adapter_path=adapter_path, parent_version=parent_version)
        return self.admin.RegisterPolicyVersion(request, **self._kw(timeout)).version

    def promote_policy(
        self, version: str, *, timeout: Optional[float] = None,
    ) -> admin_pb2.PromotePolicyResponse:
        """Makes ``version`` the one served for ``policy_version=""``; requests already running
        finish on their version. Returns ``previous_version`` and ``promoted_version``."""
        return self.admin.PromotePolicy(admin_pb2.PromotePolicyRequest(version=version),
                                        **self._kw(timeout))

    def rollback_policy(
        self, version: str = "", *, timeout: Optional[float] = None,
    ) -> admin_pb2.RollbackPolicyResponse:
        """Promotes the version promoted before the current one again (or ``version``, which
        must have been promoted before it); ``FAILED_PRECONDITION`` when there is none."""
        return self.admin.RollbackPolicy(admin_pb2.RollbackPolicyRequest(version=version),
                                         **self._kw(timeout))

    def retire_policy_version(self, version: str, *, timeout: Optional[float] = None) -> None:
        """Stops serving ``version`` and frees its adapter. ``FAILED_PRECONDITION`` while it is
        promoted, for ``base``, or while requests use it (retry when they finish)."""
        self.admin.RetirePolicyVersion(admin_pb2.RetirePolicyVersionRequest(version=version),
                                       **self._kw(timeout))

    def save_checkpoint(self, version: str = "", path: str = "", *,
                        timeout: Optional[float] = None):
        """Writes ``version`` ("" = the promoted one) as a PEFT adapter directory on the server,
        atomically, at ``path`` (absolute; "" = under the daemon's state directory). Returns the
        ``CheckpointSaved`` (``checkpoint_id``, ``path``, ``policy_version``) once durable.
        ``ALREADY_EXISTS`` for an existing path, ``FAILED_PRECONDITION`` for ``base``."""
        request = admin_pb2.SaveCheckpointRequest(policy_version=version, path=path)
        return self.admin.SaveCheckpoint(request, **self._kw(timeout)).checkpoint

    def health(self, service: str = "", *, timeout: Optional[float] = None) -> str:
        """The standard health status of ``service`` ("" = the whole server, or e.g.
        ``"rlhfd.v1.Policy"``) as a name: ``"SERVING"``, ``"NOT_SERVING"``, ``"UNKNOWN"``.
        An unknown service raises ``grpc.RpcError`` with ``NOT_FOUND``."""
        response = self.health_stub.Check(health_pb2.HealthCheckRequest(service=service),
                                          **self._kw(timeout))
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


def _priority(batch: bool) -> "common_pb2.Priority":
    """The scheduling class: interactive unless ``batch``."""
    return common_pb2.PRIORITY_BATCH if batch else common_pb2.PRIORITY_INTERACTIVE
