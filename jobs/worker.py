"""The RQ worker class of the Procfile: `rq worker -w jobs.worker.AppWorker <RQ_QUEUE>`.

RQ forks a work horse for every job. With this class the app (create_app(), about a second) is built once
in the worker before it forks, so each job starts at once; a plain `rq worker` works too, building the app
in each horse.
"""
from __future__ import annotations

from rq.worker import Worker

from jobs import runner


class AppWorker(Worker):
    """An RQ worker that holds the Delegation Desk app, configured from the environment like the web processes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        runner.preload_app()
