"""Running the portal: on its own (``starter.py portal``) or beside the worker (``make up``).

    async with running_portal(settings) as url:      # beside anything else in the same event loop
        ...
    await run_with_portal(settings, serve(settings))  # what `up` does: the worker and the portal

Embedded, uvicorn leaves the process's signals alone (the worker owns Ctrl-C and SIGTERM); the portal
stops when the block it runs beside ends. Its access log is off: request paths carry tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import TypeVar

import uvicorn
from temporalio.client import Client

from eventstore import EventStore
from portal.app import create_app
from tandem.settings import Settings

T = TypeVar("T")


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that installs no signal handlers (its host process has its own)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # older uvicorn versions
        return None


def _config(settings: Settings, store: EventStore | None, client: Client | None) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings, store=store, client=client),
        host=settings.portal_host,
        port=settings.portal_port,
        access_log=False,  # paths carry tokens: never write them to a log
        log_level="warning",
        lifespan="on",
        server_header=False,
    )


@contextlib.asynccontextmanager
async def running_portal(
    settings: Settings, *, store: EventStore | None = None, client: Client | None = None
) -> AsyncIterator[str]:
    """Serve the portal while the block runs; yields its base URL (as links carry it)."""
    server = _EmbeddedServer(_config(settings, store, client))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # raises the reason (port taken, keys unusable, database unreachable)
                raise RuntimeError(
                    f"the portal did not start on {settings.portal_host}:{settings.portal_port}"
                )
            await asyncio.sleep(0.02)
        yield settings.portal_base_url
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run_with_portal(settings: Settings, main: Awaitable[T]) -> T:
    """Run ``main`` (e.g. the worker's ``serve(settings)``) with the portal beside it."""
    async with running_portal(settings):
        return await main


async def serve_portal(settings: Settings) -> None:
    """The portal alone, until Ctrl-C or SIGTERM."""
    server = uvicorn.Server(_config(settings, None, None))
    await server.serve()
