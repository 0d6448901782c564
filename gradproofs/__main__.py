import sys

from gradproofs.cli import main

sys.exit(main())
