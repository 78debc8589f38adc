"""Process wiring shared by the worker and the starter: settings, logging, the Temporal client."""
