"""The one flow of every importer: read, validate every row, then write everything in one transaction or nothing.

    result = run_import(session, "registration", data, "批量注册.xlsx", actor=user, lang="zh", dry_run=False)
    result.ok, result.rows_read, result.rows_valid, result.errors_by_kind(), result.report  # xlsx bytes or None

The importer owns the transaction: it commits when every row passed and this is no dry run, and rolls back
otherwise. A dry run takes the same steps (the domain operations decide quotas and states) and rolls back.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from models.base import utcnow
from models.delegation.tables import User
from models.enums import Role
from models.errors import DomainError, NotAllowed
from models.present import database_error_message
from importers.columns import SheetSpec
from importers.problems import KINDS, REFUSAL_KINDS, CellError, FileProblem, Problem, Text, domain_text, file_problem, pick
from importers.reader import Row, Sheet, Upload, read_upload

PROGRESS_STEP = 1000  # rows between two progress updates


class Progress:
    """Where a long import stands (the CLI draws a bar); the default shows nothing."""

    def stage(self, label: Text, total: int) -> None:
        """A new stage of `total` steps begins."""

    def advance(self, steps: int = 1) -> None:
        """`steps` more steps are done."""


@dataclass
class Context:
    """What an importer's steps share: the session, the actor, the language, the file read, the problems found."""

    session: Session
    actor: User
    lang: str
    upload: Upload
    now: datetime
    progress: Progress
    problems: list[Problem] = field(default_factory=list)
    memo: dict = field(default_factory=dict)

    def sheet(self, spec: SheetSpec) -> Sheet:
        return self.upload.sheets[spec.zh]

    def add(self, sheet: Sheet, row: Row | int | None, field_name: str | None, kind: str, zh: str, en: str) -> None:
        """Record a problem at a row and field of a sheet."""
        self.problems.append(sheet.problem(row, field_name, kind, zh, en))

    def value(self, sheet: Sheet, row: Row, field_name: str, parse, *args, **kwargs):
        """parse(cell text, ...) for the row's field; None after recording the problem when it refuses.

        A cell the reader refused already (a number where text must be, a date serial) gives None at once.
        """
        if field_name in row.bad:
            return None
        try:
            return parse(row.values.get(field_name, ""), *args, **kwargs)
        except CellError as error:
            self.cell_error(sheet, row, field_name, error)
            return None

    def same_value(self, sheet: Sheet, row: Row, field_name: str, parse):
        """Like value(), remembering the answer per text: for cells that repeat (a USCC, a category, a label)."""
        if field_name in row.bad:
            return None
        text = row.values.get(field_name, "")
        memo = self.memo.setdefault((sheet.name, field_name), {})
        if text not in memo:
            try:
                memo[text] = (parse(text), None)
            except CellError as error:
                memo[text] = (None, error)
        value, error = memo[text]
        if error is not None:
            self.cell_error(sheet, row, field_name, error)
        return value

    def failed(self, row: Row, before: int) -> bool:
        """True when the row has a problem: one the reader found, or one recorded since `before`."""
        return bool(row.bad) or len(self.problems) > before

    def cell_error(self, sheet: Sheet, row: Row, field_name: str, error: CellError) -> None:
        """Record a refused cell, its message headed by the column's name."""
        column = sheet.spec.column(field_name)
        zh, en = error.message
        self.add(sheet, row, field_name, error.kind, zh if column.zh in zh else f"「{column.zh}」{zh}",
                 f"{column.en}: {en}")

    def refuse(self, sheet: Sheet, row: Row, field_name: str | None, error: DomainError | str,
               code: str | None = None) -> None:
        """Record a domain refusal (a DomainError or an engine Refusal) at a row; its code gives the kind."""
        code = code or getattr(error, "code", None)
        kind = REFUSAL_KINDS.get(code, "duplicate_db" if code == "duplicate" else "refused")
        field_name = getattr(error, "field", None) if getattr(error, "field", None) in sheet.columns else field_name
        self.problems.append(Problem(kind, domain_text(str(error)), sheet=sheet.name, row=row.index,
                                     column=sheet.columns.get(field_name), field=field_name))

    def rows(self, spec: SheetSpec, label: Text):
        """The data rows of a sheet (not its totals row, nor the template's sample row left as it was),
        reporting progress as they are visited."""
        sheet = self.sheet(spec)
        sample = {c.field: c.sample for c in spec.columns}
        # A template filled in below its sample row must not register 广州示例贸易有限公司 as well.
        rows = [r for r in sheet.rows if not r.is_total and not is_sample(r, sample)]
        self.progress.stage(label, len(rows))
        for n, row in enumerate(rows, 1):
            if n % PROGRESS_STEP == 0:
                self.progress.advance(PROGRESS_STEP)
            yield sheet, row
        self.progress.advance(len(rows) % PROGRESS_STEP)


def is_sample(row: Row, sample: dict[str, str]) -> bool:
    """True for the template's own sample row, unchanged (every cell as the template wrote it)."""
    return any(sample.values()) and all(value == sample.get(field, "") for field, value in row.values.items())


class Importer:
    """One kind of import: its sheets, who may run it, how rows are validated and written."""

    kind: str = ""
    title: Text = ("", "")
    description: Text = ("", "")
    roles: frozenset[Role] = frozenset()
    sheets: tuple[SheetSpec, ...] = ()

    def validate(self, ctx: Context):
        """Check every row; record problems in ctx and return what apply() needs."""
        raise NotImplementedError

    def apply(self, ctx: Context, plan) -> list[tuple[Text, int]]:
        """Write the plan through the domain operations (flush, never commit); what was done, as counts."""
        raise NotImplementedError

    def choices(self, session: Session, actor: User) -> dict[str, list[str]]:
        """Dropdown options the template reads from the database (the actor's sub-delegations)."""
        return {}

    def allowed(self, actor: User) -> bool:
        return actor is not None and actor.active and actor.role in self.roles


@dataclass
class ImportResult:
    """What an import did, or why it did nothing: the summary and, for a file with errors, its error report."""

    kind: str
    title: Text
    filename: str
    dry_run: bool
    lang: str = "zh"
    rows_read: int = 0
    rows_valid: int = 0
    problems: list[Problem] = field(default_factory=list)
    notices: list[Text] = field(default_factory=list)
    counts: list[tuple[Text, int]] = field(default_factory=list)
    written: bool = False
    upload: Upload | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def errors_by_kind(self) -> list[tuple[str, int]]:
        """(kind, problems) in the order of importers.problems.KINDS."""
        counted = Counter(p.kind for p in self.problems)
        return [(kind, counted[kind]) for kind in KINDS if counted[kind]]

    def summary(self, lang: str = "zh") -> list[str]:
        """The summary as lines in the language: rows read and valid, errors by kind, what was written."""
        lines = [pick((f"读取 {self.rows_read} 行，有效 {self.rows_valid} 行", f"{self.rows_read} rows read, "
                                                                            f"{self.rows_valid} valid"), lang)]
        for kind, n in self.errors_by_kind():
            lines.append(pick((f"{KINDS[kind][0]}：{n} 处", f"{KINDS[kind][1]}: {n}"), lang))
        for label, n in self.counts:
            lines.append(f"{pick(label, lang)}{pick(('：', ': '), lang)}{n}")
        lines += [pick(notice, lang) for notice in self.notices]
        if self.problems:
            lines.append(pick(("文件有错误，未导入任何数据", "The file has errors: nothing was imported"), lang))
        elif self.dry_run:
            lines.append(pick(("试运行：校验通过，未写入任何数据", "Dry run: the file is valid; nothing was written"), lang))
        return lines

    def file_problems(self) -> list[Problem]:
        return [p for p in self.problems if p.row is None]

    @property
    def report(self) -> bytes | None:
        """The error report (xlsx): the uploaded sheets with bad cells highlighted and the reasons, and a summary."""
        if self.ok:
            return None
        from importers.report import error_report

        return error_report(self)


def run_import(session: Session, kind: str, data: bytes, filename: str, *, actor: User, lang: str = "zh",
               dry_run: bool = False, progress: Progress | None = None, now: datetime | None = None,
               commit: bool = True) -> ImportResult:
    """Read, validate and (unless there are errors or this is a dry run) write one file; the caller keeps the session.

    commit=False (a background job): a valid file is left flushed for the caller to commit with its own
    bookkeeping; a file with errors, or a dry run, is still rolled back here.
    """
    from importers import IMPORTERS

    importer = IMPORTERS.get(kind)
    if importer is None:
        raise DomainError(f"未知的导入类型：{kind}（可用：{', '.join(IMPORTERS)}）")
    if not importer.allowed(actor):
        raise NotAllowed(pick((f"您的角色（{actor.role.zh}）不能导入「{importer.title[0]}」",
                               f"Your role ({actor.role.en}) may not import {importer.title[1]}"), lang))
    result = ImportResult(kind, importer.title, filename, dry_run, lang)
    progress = progress or Progress()
    try:
        progress.stage(("读取文件", "Reading the file"), 1)
        upload = read_upload(data, filename, importer.sheets)
        progress.advance()
        if upload.rows_read == 0:
            raise file_problem("file", "表头下没有数据行", "There are no data rows below the header")
    except FileProblem as problem:
        result.problems = problem.problems
        return result
    result.upload, result.rows_read, result.notices = upload, upload.rows_read, list(upload.notices)
    ctx = Context(session, actor, lang, upload, now or utcnow(), progress, problems=list(upload.problems))
    try:
        plan = importer.validate(ctx)
        # The valid rows go through the operations even when others failed: their refusals (quotas, states,
        # amounts) belong in the same report. Nothing is kept unless every row passed.
        result.counts = importer.apply(ctx, plan)
        session.flush()
    except DomainError as exc:  # a refusal of the whole batch, not of one row
        ctx.problems.append(Problem("refused", domain_text(str(exc))))
    except SQLAlchemyError as exc:
        ctx.problems.append(Problem("refused", (database_error_message(exc, "zh"), database_error_message(exc, "en"))))
    result.problems = ctx.problems
    if result.problems:
        result.counts = []  # nothing was written
    bad_rows = {(p.sheet, p.row) for p in ctx.problems if p.row is not None}
    result.rows_valid = 0 if result.file_problems() else max(result.rows_read - len(bad_rows), 0)
    _finish(session, result, commit)
    return result


def _finish(session: Session, result: ImportResult, commit: bool = True) -> None:
    """Commit everything or nothing (without `commit`, everything is left to the caller's commit)."""
    if result.problems or result.dry_run:
        session.rollback()
        return
    if not commit:
        result.written = True  # kept when the caller commits: a job commits it with its 已完成
        return
    try:
        session.commit()
        result.written = True
    except SQLAlchemyError as exc:
        session.rollback()
        result.problems.append(Problem("refused", (database_error_message(exc, "zh"),
                                                   database_error_message(exc, "en"))))
        result.counts = []
