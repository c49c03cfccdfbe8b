"""The send-outbox job: deliver what the outbox holds now, with progress (the first real user of jobs.submit)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from delivery.sender import deliver_pending, due_count
from jobs.context import JobContext
from models import NotAllowed, Role, User

FUNC_PATH = "jobs.send_outbox:send_outbox"
KIND = "send_outbox"
TITLE = "发送待发消息"
DEFAULT_BATCH = 1000


def send_outbox(session: Session, *, actor: User | None, params: dict, job: JobContext) -> str:
    """Deliver up to params['batch'] due messages. Each message commits on its own (a delivered message
    stays delivered even if a later one fails), so the job's session itself writes nothing."""
    if actor is not None and actor.role is not Role.SECRETARIAT:
        raise NotAllowed("只有秘书处可以立即发送发件箱中的消息")
    limit = int(params.get("batch") or DEFAULT_BATCH)
    engine = session.get_bind()
    session.rollback()  # hold no transaction (on SQLite: no write lock) while the sender claims messages
    total = min(limit, due_count(engine))
    job.report(0, total)
    tally = deliver_pending(engine, limit=total, progress=lambda t: job.report(t.handled, total))
    return tally.words()


def submit_send_outbox(owner: User, *, batch: int = DEFAULT_BATCH) -> int:
    """Queue (or, without Redis, run) the send-outbox job for `owner`; its id."""
    from jobs import submit

    return submit(KIND, FUNC_PATH, owner=owner, params={"batch": int(batch)}, title=TITLE)
