"""gRPC server reflection: a client with no protos lists the services, resolves
rlhfd.v1.Policy's descriptors (with their imports) and calls an RPC built from them alone —
what grpcurl and grpcui do. Both grpc.reflection.v1 and v1alpha (grpcio-reflection's)."""

from __future__ import annotations

from google.protobuf import descriptor_pool, message_factory
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

SERVICES = {
    "rlhfd.v1.Policy", "rlhfd.v1.Reward", "rlhfd.v1.Feedback", "rlhfd.v1.Admin",
    "rlhfd.v1.Debug", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
}


def test_lists_services_and_calls_an_rpc_from_descriptors(daemon):
    channel = daemon.channel()
    database = ProtoReflectionDescriptorDatabase(channel)
    assert set(database.get_services()) == SERVICES
    pool = descriptor_pool.DescriptorPool(database)
    policy = pool.FindServiceByName("rlhfd.v1.Policy")
    generate = policy.FindMethodByName("Generate")
    assert generate.input_type.full_name == "rlhfd.v1.GenerateRequest"
    # An imported file's types resolve too (common.proto), nested messages and enums as well.
    assert pool.FindMessageTypeByName("rlhfd.v1.GenerateRequest").fields_by_name["sampling"]
    # Echo through messages made from the fetched descriptors only.
    echo = pool.FindServiceByName("rlhfd.v1.Debug").FindMethodByName("Echo")
    request_class = message_factory.GetMessageClass(echo.input_type)
    response_class = message_factory.GetMessageClass(echo.output_type)
    call = channel.unary_unary(
        "/rlhfd.v1.Debug/Echo",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_class.FromString,
    )
    assert call(request_class(payload=b"reflected"), timeout=5).payload == b"reflected"


def ask(channel, method: str, request: reflection_pb2.ServerReflectionRequest):
    """One request on a new stream of `method`; the answer parsed as v1alpha (same bytes)."""
    stream = channel.stream_stream(
        method,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    return next(iter(stream(iter([request]), timeout=5)))


def test_v1_and_errors(daemon):
    channel = daemon.channel()
    v1 = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
    listed = ask(channel, v1, reflection_pb2.ServerReflectionRequest(list_services="*"))
    assert {s.name for s in listed.list_services_response.service} == SERVICES
    by_symbol = ask(channel, v1, reflection_pb2.ServerReflectionRequest(
        file_containing_symbol="rlhfd.v1.Policy.Generate"))
    files = by_symbol.file_descriptor_response.file_descriptor_proto
    assert len(files) >= 2  # policy.proto and what it imports
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    for request in [
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="rlhfd.v1.Nope"),
        reflection_pb2.ServerReflectionRequest(file_by_filename="nope.proto"),
    ]:
        reply = next(iter(stub.ServerReflectionInfo(iter([request]), timeout=5)))
        assert reply.error_response.error_code == 5, reply  # NOT_FOUND
        assert "nope" in reply.error_response.error_message.lower(), reply
