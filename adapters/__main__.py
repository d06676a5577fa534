import sys

from adapters import main

sys.exit(main())
