"""The append-only audit log and the outbox."""
from models.audit.tables import AuditEntry, OutboxMessage

__all__ = ["AuditEntry", "OutboxMessage"]
