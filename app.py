"""Open Whisper Curator in the browser: `python app.py [INPUT]`, INPUT a workspace or any input `score` takes
(audio folder, NeMo JSONL, CSV, saved HF dataset), scored first with its progress on the page; default: the
bundled demo."""
import argparse
import sys

from curator import HOST, PORT
from curator.app import launch
from engine.demo import demo_input

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("input", nargs="?", help="workspace or input to score; default: score and open the bundled demo")
parser.add_argument("--workspace", "-w", default=None, help="where to score an INPUT that is not a workspace "
                    "(default: a folder named after it in the user cache)")
parser.add_argument("--host", default=HOST, help=f"address to bind (default: {HOST})")
parser.add_argument("--port", type=int, default=PORT, help=f"port (default: {PORT})")
parser.add_argument("--auth", default=None, metavar="USER:PASS", help="require this login")
args = parser.parse_args()
source, workspace = (args.input, args.workspace) if args.input else demo_input(args.workspace)
try:
    launch(source, host=args.host, port=args.port, auth=args.auth, workspace=workspace)
except (FileNotFoundError, ValueError, OSError) as e:
    sys.exit(f"app.py: {e}")
except KeyboardInterrupt:
    print("interrupted; open the same input again to resume its scoring")
