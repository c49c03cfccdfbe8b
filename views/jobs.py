"""我的任务 / My jobs: the signed-in user's background jobs with a live progress bar, and their result files.

Only the owner ever sees a job: the list, the JSON the bars poll and the download all read through
models.jobs.operations.jobs_of/job_of, which filter by owner; another user's job id answers 404.
"""
from __future__ import annotations

import re
from pathlib import Path

from flask import abort, flash, jsonify, redirect, request, send_file
from flask_admin import BaseView, expose
from flask_login import current_user

from jobs.context import live_progress
from jobs.runner import results_dir
from models import DomainError, JobState, Role
from models.ids import parse_ids
from models.jobs.operations import job_of, jobs_of
from models.present import beijing_minute
from views.common import SignedInOnly
from views.i18n import enum_label, pick, tr

STORED_RESULT = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{1,8}$")  # the runner's generated names, nothing else
UNFINISHED = (JobState.QUEUED, JobState.RUNNING)


def job_status(job, download_url: str | None) -> dict:
    """One job as the page's script reads it; a running inline job's bar comes from this process."""
    done, total = job.progress_done or 0, job.progress_total
    live = live_progress(job.id) if job.state is JobState.RUNNING else None
    if live is not None:
        done, total = live
    percent = 100 if job.state is JobState.DONE else (min(100, done * 100 // total) if total else 0)
    return {"id": job.id, "state": job.state.value, "state_label": enum_label(job.state), "done": done,
            "total": total, "percent": percent, "summary": job.summary or "", "error": job.error or "",
            "download": download_url if job.state is JobState.DONE and job.result_file else None}


class JobsView(SignedInOnly, BaseView):
    """The owner's jobs, newest first."""

    @expose("/")
    def index(self):
        jobs = jobs_of(self.db.session, current_user)
        rows = [dict(job_status(job, self._download_url(job)), title=job.title, created=beijing_minute(job.created_at),
                     finished=beijing_minute(job.finished_at)) for job in jobs]
        return self.render("admin/dd_jobs.html", rows=rows, unfinished=[r["id"] for r in rows
                                                                          if r["state"] in UNFINISHED],
                           may_send_outbox=current_user.role is Role.SECRETARIAT, pick=pick)

    @expose("/status.json")
    def status(self):
        """The bars' figures for the asked jobs of the current user (others' ids are simply absent)."""
        ids = parse_ids(request.args.get("ids", "").split(","))[:100]
        jobs = jobs_of(self.db.session, current_user, ids=ids) if ids else []
        response = jsonify(jobs=[job_status(job, self._download_url(job)) for job in jobs])
        response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/<int:job_id>/download")
    def download(self, job_id: int):
        job = job_of(self.db.session, current_user, job_id)
        if job is None or job.state is not JobState.DONE or not STORED_RESULT.match(job.result_file or ""):
            abort(404)
        path = Path(results_dir()) / job.result_file
        if not path.is_file():
            abort(404)
        return send_file(path, as_attachment=True, download_name=job.result_name or job.result_file)

    @expose("/send-outbox", methods=("POST",))
    def send_outbox(self):
        """The secretariat sends what the outbox holds now, as a job of theirs."""
        from jobs.send_outbox import submit_send_outbox

        if current_user.role is not Role.SECRETARIAT:
            abort(403)
        try:
            job_id = submit_send_outbox(current_user)
        except DomainError as exc:
            flash(str(exc), "error")
        else:
            flash(pick((f"已开始任务 {job_id}：发送待发消息", f"Job {job_id} started: sending pending messages")), "success")
        return redirect(self.get_url(".index"))

    def _download_url(self, job) -> str | None:
        return self.get_url(".download", job_id=job.id) if job.result_file else None


def register_job_views(app, admin, db) -> None:
    """我的任务 in the menu; 群发邮件 under 报名审核 and linked from the organisation list."""
    from views.mass_mail import MassMailView, list_links
    from views.registry import REGISTRATION

    admin.add_view(JobsView(db, name=tr(("我的任务", "My jobs")), endpoint="jobs", url="/admin/jobs"))
    admin.add_view(MassMailView(db, name=tr(("群发邮件", "Mass e-mail")), endpoint="mass_mail",
                                url="/admin/mass_mail", category=REGISTRATION))
    app.context_processor(lambda: {"extra_list_links": list_links})
