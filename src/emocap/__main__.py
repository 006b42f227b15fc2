import sys

from emocap.cli import main

sys.exit(main())
