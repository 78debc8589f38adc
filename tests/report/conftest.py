from tests.projections.conftest import es  # noqa: F401  (the per-test event store fixture)
