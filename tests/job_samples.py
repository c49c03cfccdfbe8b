"""Job functions for the tests: one that works and writes a file, two that fail after writing."""
from __future__ import annotations

import jobs
from models import DomainError, Organization
from models.audit.operations import record


def count_and_write(session, *, actor, params, job):
    """Writes n lines to its result file, reporting each, and one audit entry."""
    n = int(params["n"])
    path = job.result_path(".csv", "名单.csv")
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            out.write(f"第{i + 1}行\n")
            job.report(i + 1, n)
    record(session, actor=actor, action="test.job_wrote", object_type="background_job", object_id=job.job_id,
           sub_delegation_id=None)
    return f"已写入 {n} 行"


def half_then_fail(session, *, actor, params, job):
    """Renames an organisation, audits it, starts its file, reports half way, then refuses: nothing may stay."""
    org = session.get(Organization, params["organization_id"])
    org.name = "写了一半的名字"
    session.flush()
    record(session, actor=actor, action="test.half_written", object_type="organization", object_id=org.id,
           sub_delegation_id=org.sub_delegation_id)
    job.result_path(".txt", "半成品.txt").write_text("partial", encoding="utf-8")
    jobs.report(1, 2)  # from "deeper" code: the module-level function finds the running job
    raise DomainError("第 2 行：证件号码校验失败")


def crash(session, *, actor, params, job):
    return 1 / 0
