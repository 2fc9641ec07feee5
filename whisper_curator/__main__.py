import sys

from whisper_curator.cli import main

sys.exit(main())
