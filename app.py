"""Open Whisper Curator in the browser: `python app.py [WORKSPACE]` (default: the bundled demo)."""
import argparse

from curator.app import launch
from engine.demo import demo_workspace

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("workspace", nargs="?", help="workspace folder; default: score and open the bundled demo")
parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
parser.add_argument("--auth", default=None, metavar="USER:PASS", help="require this login")
args = parser.parse_args()
launch(args.workspace or demo_workspace(), host=args.host, port=args.port, auth=args.auth)
