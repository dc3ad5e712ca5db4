"""``rlhfctl``: the operator command line of rlhfd (health, model info, generate, score, policy
versions, feedback import, training status).

    rlhfctl [--address HOST:PORT|unix:/PATH] [--timeout S] [--tls] [--ca PEM] [--cert PEM --key PEM]
            [--token-file FILE] [--json] COMMAND ...

Exit status: 0 success; 1 the daemon answered with an error (printed as ``CODE: details``) or
reported a service not SERVING, or some feedback records were rejected; 2 bad usage, a local
file that cannot be read, or the daemon cannot be reached; 130 interrupted.
"""

from rlhfd_client.cli.app import main

__all__ = ["main"]
