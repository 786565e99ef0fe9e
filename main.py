"""PhotoCluster: ``python main.py [FOLDER]`` opens the window; ``python main.py cluster ...`` runs headless;
``python main.py extract FOLDER [--ray [ADDRESS]]`` fills the feature cache (locally or on Ray);
``python main.py --version`` prints the version."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in ("--version", "-V"):
        from engine import __version__

        print(f"photocluster {__version__}")
        return 0
    if args and args[0] == "cluster":
        from engine.cli import main as cli_main

        return cli_main(args[1:])
    if args and args[0] == "extract":
        from engine.extract_cli import main as extract_main

        return extract_main(args[1:])
    from gui.app import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
