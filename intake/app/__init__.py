"""The app: the server that wires the core to the PBX, Redis and the web; the CLI; the demo."""
