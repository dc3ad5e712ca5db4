"""``python -m rlhfd_client.cli`` = ``rlhfctl``."""

import sys

from rlhfd_client.cli.app import main

sys.exit(main())
