"""``python -m lambda_handlers.cli``: the same as the ``bedrock-customize`` script."""

import sys

from lambda_handlers.cli import main

sys.exit(main())
