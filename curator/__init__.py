"""The curation app: Gradio views over a workspace, one module per tab (layout in `app`, handlers beside it)."""

HOST = "127.0.0.1"  # where the app listens by default: this machine only
PORT = 7860
