"""The suite's own default profile.

The profiles and the ``device`` fixture come from gradproofs' pytest plugin (gradproofs/pytest_plugin.py,
registered by the package's pytest11 entry point): ``--hypothesis-profile gradproofs-dev|gradproofs-ci|
gradproofs-thorough``, ``--gradproofs-device cpu|cuda|all`` or ``GRADPROOFS_DEVICE``.

Here gradproofs-ci when CI is set, else gradproofs-dev, derandomized and without an example database, so
that each run of the suite draws the same examples as the last; ``--hypothesis-profile`` overrides it.
"""

import os

from hypothesis import settings

from gradproofs.pytest_plugin import register_profiles

register_profiles()
settings.register_profile("gradproofs-dev", parent=settings.get_profile("gradproofs-dev"), database=None,
                          derandomize=True)
# The differential properties against the live libraries (tests marked differential), as CI runs them.
settings.register_profile("gradproofs-differential", parent=settings.get_profile("gradproofs-thorough"),
                          max_examples=3000)
settings.load_profile("gradproofs-ci" if os.environ.get("CI") else "gradproofs-dev")

