"""``python -m gradproofs``: the gradproofs command (:mod:`gradproofs.cli`)."""

import sys

from gradproofs.cli import main

sys.exit(main())
