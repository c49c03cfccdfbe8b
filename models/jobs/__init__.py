"""Background jobs: one row per job, owned by the user who started it."""
from models.jobs.tables import BackgroundJob

__all__ = ["BackgroundJob"]
