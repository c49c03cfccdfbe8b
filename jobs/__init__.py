"""Background jobs: long work (imports, exports, batch transitions, the outbox) off the request.

Call
    job_id = jobs.submit(kind, "package.module:function", owner=user, params={...}, title="导出全部人员")

`submit` writes a `background_job` row owned by `user` (audited as job.submitted) and commits it. With
REDIS_URL set it queues the job on RQ (queue RQ_QUEUE, run by `rq worker`) and returns at once; without
Redis it runs the job inline and returns when it has ended. The owner follows it on 我的任务 (/admin/jobs/),
the CLI with `jobs.cli.follow(job_id)` (a click progress bar).

A job function
    def export_persons(session, *, actor, params, job):
        total = ...
        path = job.result_path(".xlsx", "人员名单.xlsx")   # a generated name under REPORTS_DIR/jobs
        for i, row in enumerate(rows, 1):
            ...
            job.report(i, total)                          # or jobs.report(i, total) from deeper code
        return "已导出 1,234 人"                          # the summary shown beside the job

- `session` is the job's own transaction: the runner commits it together with the job's `done` state. If the
  function raises, everything it wrote is rolled back, its result file deleted, and the job marked `failed`
  with the reason in words (DomainError messages as they are). Call operations with `actor=actor` (the
  owner, loaded in that session); never commit inside a job, unless its work is deliberately row by row
  (the outbox sender commits each delivered message).
- `params` is JSON (ids, options, file names under UPLOADS_DIR), never objects.
- Progress is visible to other processes while the job runs on PostgreSQL; on SQLite it lands with the
  result (its write lock is the job's until it commits), except for the bar of an inline job in the same process.
"""
from jobs.context import JobContext, current_job, report
from jobs.submit import submit

__all__ = ["JobContext", "current_job", "report", "submit"]
