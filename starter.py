"""The operator's command line: validate, start, watch and demo reverse-mentorship programs.

    python starter.py validate --program examples/program.yaml --roster examples/roster.csv
    python starter.py start --program examples/program.yaml --roster examples/roster.csv
    python starter.py start --program examples/program.yaml --roster examples/roster.csv --pairings p.csv
    python starter.py status rm-pilot-2027
    python starter.py demo
    python starter.py up            # the local stack and a worker, until Ctrl-C

Exit codes: 0 success, 1 operational failure (server unreachable, program exists), 2 bad input.
"""

import os
import sys

from tandem.cli import app
from tandem.settings import SettingsError


def main() -> None:
    """Run the CLI and leave with its exit code straight away.

    ``os._exit`` after flushing: letting the interpreter finalise while the Temporal client's native
    threads are still winding down can abort the process (PyGILState_Release at finalisation), which
    would turn a clean exit into a crash and lose the command's exit code.
    """
    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except SettingsError as err:  # raised wherever a command reads its settings
        print(f"starter: bad setting: {err}", file=sys.stderr)
        code = 2
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
