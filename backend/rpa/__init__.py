"""The robot factory: robots registered, their work items queued, run by workers and
monitored (docs/rpa.md)."""
