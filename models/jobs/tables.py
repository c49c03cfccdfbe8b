"""The background job table: what a job is, whose it is, how far it got, and what it left behind."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, JsonType, created_at_column
from models.columns import col, enum_col, fk
from models.delegation.tables import User
from models.enums import JobState


class BackgroundJob(Base):
    """One piece of long work (an import, an export, a batch, the outbox), run on RQ or inline."""

    __tablename__ = "background_job"
    __label__ = ("后台任务", "Background jobs")

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = fk("admin_user.id", "发起人", "Owner", nullable=True)
    kind: Mapped[str] = col(String(40), "任务类型", "Kind")
    title: Mapped[str] = col(String(200), "任务", "Job")
    # The dotted path of the function the worker imports and calls (jobs/runner.py).
    func_path: Mapped[str] = col(String(200), "执行函数", "Function")
    params: Mapped[dict | None] = col(JsonType, "参数", "Parameters", nullable=True)
    state: Mapped[JobState] = enum_col(JobState, "job_state", "状态", "State", default=JobState.QUEUED)
    progress_done: Mapped[int] = col(Integer, "已完成", "Done", default=0)
    progress_total: Mapped[int | None] = col(Integer, "总数", "Total", nullable=True)
    summary: Mapped[str | None] = col(Text, "结果", "Result", nullable=True)
    # The stored file's generated name under REPORTS_DIR/jobs, and the name the owner downloads it as.
    result_file: Mapped[str | None] = col(String(200), "结果文件", "Result file", nullable=True)
    result_name: Mapped[str | None] = col(String(200), "下载文件名", "Download name", nullable=True)
    error: Mapped[str | None] = col(Text, "失败原因", "Error", nullable=True)
    created_at = created_at_column()
    started_at: Mapped[datetime | None] = col(DateTime(timezone=True), "开始时间", "Started at", nullable=True)
    finished_at: Mapped[datetime | None] = col(DateTime(timezone=True), "结束时间", "Finished at", nullable=True)

    owner: Mapped[User | None] = relationship(info={"label": ("发起人", "Owner")})

    __table_args__ = (
        Index("ix_background_job_owner", "owner_id", "id"),
        Index("ix_background_job_state", "state", "id"),
    )

    @property
    def percent(self) -> int:
        """How far the job got, 0-100 (a done job is 100 even when it never said how much there was)."""
        if self.state is JobState.DONE:
            return 100
        if not self.progress_total:
            return 0
        return max(0, min(100, self.progress_done * 100 // self.progress_total))
