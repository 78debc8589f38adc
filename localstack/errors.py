class StackError(RuntimeError):
    """A local-stack problem, phrased as one line a person can act on."""
