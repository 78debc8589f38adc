"""The operator's command line: validate, start, watch and demo reverse-mentorship programs.

    python starter.py validate --program examples/program.yaml --roster examples/roster.csv
    python starter.py start --program examples/program.yaml --roster examples/roster.csv
    python starter.py start --program examples/program.yaml --roster examples/roster.csv --pairings p.csv
    python starter.py status rm-pilot-2027
    python starter.py demo
    python starter.py up            # the local stack and a worker, until Ctrl-C

Exit codes: 0 success, 1 operational failure (server unreachable, program exists), 2 bad input.
"""

from tandem.cli import app

if __name__ == "__main__":
    app()
