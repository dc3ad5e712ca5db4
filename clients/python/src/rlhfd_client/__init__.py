"""Python client for rlhfd, the vision-language policy / reward-model / online-RLHF daemon.

Quick start::

    from rlhfd_client import RlhfdClient

    with RlhfdClient("127.0.0.1:50051") as client:
        out = client.generate("What is in the image?", images=["cat.jpg"], max_new_tokens=64)
        print(out.text, out.generation_id)

The generated protobuf modules are importable as ``rlhfd_client.pb.<name>_pb2`` (or
``rlhfd_client._proto.rlhfd.v1.<name>_pb2``); health messages come from ``grpc_health.v1``.
"""

from rlhfd_client import pb
from rlhfd_client.client import (
    FactsLike,
    ImageLike,
    ResponseLike,
    RlhfdClient,
    generation_ref,
    image_sha256,
    to_facts,
    to_image,
)

__version__ = "0.1.0"

__all__ = [
    "FactsLike",
    "ImageLike",
    "ResponseLike",
    "RlhfdClient",
    "generation_ref",
    "image_sha256",
    "pb",
    "to_facts",
    "to_image",
]
