import sys

from genprm.cli import main

sys.exit(main())
