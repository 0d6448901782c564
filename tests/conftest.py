"""The suite's profile and devices come from gradproofs' pytest plugin (gradproofs/pytest_plugin.py,
registered by the package's pytest11 entry point): ``--hypothesis-profile dev|ci|thorough`` or
``GRADPROOFS_PROFILE``, ``--device cpu|cuda|all`` or ``GRADPROOFS_DEVICE``.

Here only the suite's own default: the ci profile when CI is set, else dev, derandomized and without
an example database, so that each run of the suite draws the same examples as the last.
"""

import os

from hypothesis import settings

settings.register_profile("dev", parent=settings.get_profile("dev"), database=None, derandomize=True)
# The differential properties against the live libraries (tests marked differential), as CI runs them.
settings.register_profile("differential", parent=settings.get_profile("thorough"), max_examples=3000)
settings.load_profile(os.environ.get("GRADPROOFS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
