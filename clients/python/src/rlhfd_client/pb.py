"""Short aliases for the generated message and stub modules of package ``rlhfd.v1``.

Example: ``from rlhfd_client.pb import policy_pb2, common_pb2``.
"""

from rlhfd_client._proto.rlhfd.v1 import (  # noqa: F401  (re-exports)
    admin_pb2,
    admin_pb2_grpc,
    common_pb2,
    debug_pb2,
    debug_pb2_grpc,
    feedback_pb2,
    feedback_pb2_grpc,
    policy_pb2,
    policy_pb2_grpc,
    reward_pb2,
    reward_pb2_grpc,
)

__all__ = [
    "admin_pb2", "admin_pb2_grpc", "common_pb2", "debug_pb2", "debug_pb2_grpc", "feedback_pb2",
    "feedback_pb2_grpc", "policy_pb2", "policy_pb2_grpc", "reward_pb2", "reward_pb2_grpc",
]
