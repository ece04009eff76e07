"""Where the checkout's own files are: the repository root, tools/ (the C reference programs) and build/.

One place for paths outside the package, so that a module moving between packages cannot point at the wrong folder.
"""
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
TOOLS = REPOSITORY / "tools"
BUILD = REPOSITORY / "build"
