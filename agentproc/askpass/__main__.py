"""``python -m agentproc.askpass``: the same program as the ``agentproc-askpass`` script."""

import sys

from agentproc.askpass.program import main

sys.exit(main())
