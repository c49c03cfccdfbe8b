"""Workflow actions in the back office: bulk actions, row menus and parameter pages, all from the tables."""
from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_admin import expose
from flask_admin.helpers import get_redirect_target
from flask_admin.model.template import BaseListRowAction
from flask_babel import LazyString
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from jobs.batches import inline_rows, submit_batch
from models import DomainError, files
from models.ids import id_in, parse_ids
from models.engine import Transition, Workflow, run
from reports.xlsx import write_table
from views.common import lang
from views.i18n import enum_label, pick, tr

PREVIEW_ROWS = 20
RESULT_ROWS_SHOWN = 500


ROW_ID = "__row_id__"  # stands for the row's id in a row menu's URL templates


class TransitionButton(BaseListRowAction):
    """A button for one row (the details page): shown when the row's state is one the transition starts from."""

    def __init__(self, view, name, transition):
        super().__init__(title=pick(transition.label))
        self.view, self.name, self.transition = view, name, transition
        self.sources = {s.value for s in transition.sources}

    def render(self, context, row_id, row):
        if getattr(row.state, "value", row.state) not in self.sources:
            return ""
        url = self.view.get_url(".transition_view", action_name=self.name, ids=row_id, url=request.full_path)
        css = "btn-outline-danger" if self.transition.danger else "btn-outline-primary"
        return Markup(f'<a class="btn btn-sm {css} py-0 px-1 mr-1 mb-1" href="{escape(url)}">'
                      f'{escape(pick(self.transition.label))}</a>')


class ParamsNeeded(Exception):
    """A guard read one of the action's parameters: it is decided once the action's form is filled in."""


class FixedParams(dict):
    """The parameters a row menu decides with: reading any other raises ParamsNeeded."""

    def __missing__(self, key):
        raise ParamsNeeded(key)

    def get(self, key, default=None):
        return self[key]


def decided(guard, row, params: dict, actor):
    """The guard's SQL predicate on `row`, or None when it needs a parameter that `params` does not fix."""
    try:
        return guard.predicate(row, FixedParams(params), actor)
    except ParamsNeeded:
        return None


def choice_cases(transition) -> list[dict]:
    """Every combination of the transition's choice parameters ([{}] when it has none)."""
    choices = [[(p.name, value) for value, _ in p.choices] for p in transition.params if p.kind == "choice"]
    return [dict(combo) for combo in itertools.product(*choices)]


def own_guards(transition, row, actor):
    """SQL true when `row`'s own guards let the transition pass for some choice of its parameters, or None
    when none of them can be decided before its form is filled in (a target sub-delegation, say)."""
    fixed = {g: decided(g, row, {}, actor) for g in transition.guards}
    conditions = [c for c in fixed.values() if c is not None]
    open_guards = [g for g, c in fixed.items() if c is None]
    cases = []
    for params in choice_cases(transition) if open_guards else ():
        case = [c for c in (decided(g, row, params, actor) for g in open_guards) if c is not None]
        if not case:
            cases = []  # this choice passes every guard it can decide: no restriction
            break
        cases.append(and_(*case))
    if cases:
        conditions.append(or_(*cases))
    return and_(*conditions) if conditions else None


def param_form(transition, session):
    """A WTForms form for the transition's parameters: each parameter's kind makes its field."""

    class ParamForm(FlaskForm):
        pass

    for p in transition.params:
        field = p.form_field(tr(p.label), session)
        if p.kind == "choice":  # the options in the reader's language (the domain keeps Chinese labels)
            field.kwargs["choices"] = [("", "")] + [(value, choice_label(value, label)) for value, label in p.choices]
        setattr(ParamForm, p.name, field)
    return ParamForm


def choice_label(value: str, label) -> str:
    """An option's words in the reader's language: a (zh, en) pair picked; a plain label as it is."""
    return pick(label) if isinstance(label, tuple) else label


@dataclass(frozen=True)
class Verb:
    """An action of a view that is a domain verb rather than a bare engine transition (生成订单, 批量退款).

    `transition` says what the menus and the parameter page show (label, source states, roles, parameters);
    `perform(session, target, *, actor, params)` calls the domain and answers per row (done, skipped).
    `single`: one row at a time (a voucher's amount, an invoice's number).
    """

    transition: Transition
    perform: Callable
    single: bool = False


def verb(name, label, sources, roles, perform, *, params=(), single=False, danger=False, confirmation=None) -> Verb:
    """A Verb whose menu entry is described like a transition (the target state is the domain's to decide)."""
    return Verb(Transition(name, label, frozenset(sources), None, frozenset(roles), "", params=tuple(params),
                           danger=danger, confirmation=confirmation), perform, single)


def jsonable(value):
    """A form value as a job's JSON parameter (amounts and dates as text; the domain parses them again)."""
    if isinstance(value, date):
        return value.isoformat()
    return str(value) if isinstance(value, Decimal) else value


class WorkflowActionsMixin:
    """Mixed into ScopedModelView for models that have a workflow table."""

    workflow: Workflow
    verbs: dict[str, Verb] = {}  # domain verbs: extra actions, or a transition's name called through its verb
    hidden_transitions: tuple[str, ...] = ()  # transitions other steps fire (an order is paid by its payment)

    def action_names(self) -> list[str]:
        """The table's transitions a user may start here, then the view's own verbs."""
        names = [n for n in self.workflow.names() if n not in self.hidden_transitions]
        return names + [n for n in self.verbs if n not in names]

    def transition_for(self, name: str, role):
        """What `name` means for this role (the verb's description, or the table's variant), or None."""
        if name in self.verbs:
            transition = self.verbs[name].transition
            return transition if role in transition.roles else None
        if name in self.hidden_transitions or name not in self.workflow.names():
            return None
        return self.workflow.for_role(name, role)

    def init_actions(self):
        """One bulk action per transition name of the table and verb of the view; nothing else by hand."""
        self._actions, self._actions_data = [], {}
        for name in self.action_names():
            label = LazyString(self.action_label, name)
            self._actions.append((name, label))
            self._actions_data[name] = (lambda ids, name=name: self._to_transition_page(name, ids), label, None)

    def action_label(self, name: str) -> str:
        """The action's label for the current user's role: the secretariat's approve is its second review (复审)."""
        transition = self.transition_for(name, current_user.role) if current_user.is_authenticated else None
        if transition is None:
            transition = self.verbs[name].transition if name in self.verbs else self.workflow.variants(name)[0]
        return pick(transition.label)

    def is_action_allowed(self, name) -> bool:
        return self.transition_for(name, current_user.role) is not None

    def _to_transition_page(self, name, ids):
        return redirect(self.get_url(".transition_view", action_name=name, ids=",".join(ids),
                                     url=get_redirect_target() or self.get_url(".index_view")))

    def get_list_row_actions(self):
        """Flask-Admin's row actions and a button per allowed transition (the list itself shows row_menu)."""
        actions = list(super().get_list_row_actions())
        for name, transition in self.allowed_transitions():
            actions.append(TransitionButton(self, name, transition))
        return actions

    # --- row menus: one per row, offering only the actions that can pass for that row -----------------
    def allowed_transitions(self) -> list[tuple[str, object]]:
        """(name, transition) the current user's role may fire, in the table's order."""
        role = current_user.role
        found = ((name, self.transition_for(name, role)) for name in self.action_names())
        return [(name, transition) for name, transition in found if transition is not None]

    def guard_columns(self) -> dict:
        """{action: SQL true when the row's own guards let it pass}, for the actions that have such guards.

        Each is an EXISTS on the row's id over an alias of the model, so the guards' own subqueries
        (the row's organisation, say) never correlate with a table the list query joined."""
        model, columns = self.workflow.model, {}
        for name, transition in self.allowed_transitions():
            row = aliased(model)
            condition = own_guards(transition, row, current_user)
            if condition is not None:
                # A range, not "=": PostgreSQL would hash an equality-correlated EXISTS over the whole table when
                # it expects a million outer rows (the LIMIT sits above); a range is probed per page row by the key.
                same_row = and_(row.id >= model.id, row.id <= model.id)
                columns[name] = exists(select(row.id).where(same_row, condition)).label(f"may_{name}")
        return columns

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        """The page's rows and, in the same statement, which actions each row's own guards let pass."""
        count, query = super().get_list(page, sort_column, sort_desc, search, filters, execute=False,
                                        page_size=page_size)
        if not execute:
            return count, query
        columns = self.guard_columns()
        if not columns:
            return count, self.page_rows(query.all())
        rows, verdicts = [], {}
        for obj, *passed in query.add_columns(*columns.values()).all():
            rows.append(obj)
            verdicts[obj.id] = {name: bool(ok) for name, ok in zip(columns, passed)}
        self._template_args["row_guards"] = verdicts
        return count, self.page_rows(rows)

    def passable(self, row) -> list[tuple[str, object]]:
        """The actions this row's menu offers: its state is a source, and its own guards pass."""
        state = getattr(row.state, "value", row.state)
        verdicts = self._template_args.get("row_guards", {}).get(row.id, {})
        return [(name, t) for name, t in self.allowed_transitions()
                if state in {s.value for s in t.sources} and verdicts.get(name, True)]

    def row_urls(self, return_url: str) -> dict[str, str]:
        """{link: URL with ROW_ID for the id}: url_for once per action and page, never per row (STACK.md)."""
        cache = self._template_args.setdefault("row_urls", {})
        if return_url not in cache:
            urls = {}
            if self.can_view_details:
                urls["details"] = self.get_url(".details_view", id=ROW_ID, url=return_url)
            if self.can_edit:
                urls["edit"] = self.get_url(".edit_view", id=ROW_ID, url=return_url)
            for name, _ in self.allowed_transitions():
                urls[name] = self.get_url(".transition_view", action_name=name, ids=ROW_ID, url=return_url)
            cache[return_url] = {key: str(escape(url)) for key, url in urls.items()}
        return cache[return_url]

    def row_menu(self, row, return_url: str) -> Markup:
        """Details and edit icons, and one dropdown of the actions that can pass for this row."""
        urls, row_id = self.row_urls(return_url), str(row.id)
        link = lambda key: urls[key].replace(ROW_ID, row_id)  # noqa: E731
        icons = (("details", "fa-eye", pick(("查看", "View"))), ("edit", "fa-pencil", pick(("编辑", "Edit"))))
        parts = [f'<a class="dd-icon" href="{link(key)}" title="{title}"><span class="fa {icon}"></span></a>'
                 for key, icon, title in icons if key in urls]
        if self.allowed_transitions():  # a role without actions (viewers) gets no menu at all
            parts.append(self.actions_dropdown(self.passable(row), link))
        return Markup(f'<div class="dd-row-menu" data-row="{row_id}">{"".join(parts)}</div>')

    @staticmethod
    def actions_dropdown(actions, link) -> str:
        """A dropdown of the row's actions (dangerous ones in red), or a disabled button when none can pass."""
        caption = escape(pick(("操作", "Actions")))
        if not actions:
            none = escape(pick(("当前状态下没有可执行的操作", "No action can be taken in this state")))
            return (f'<button type="button" class="btn btn-sm btn-outline-secondary dd-menu-toggle" disabled '
                    f'title="{none}">{caption}</button>')
        items = "".join(f'<a class="dropdown-item{" text-danger" if t.danger else ""}" href="{link(name)}">'
                        f'{escape(pick(t.label))}</a>' for name, t in actions)
        return (f'<div class="dropdown d-inline-block"><button type="button" data-toggle="dropdown" '
                f'class="btn btn-sm btn-outline-primary dropdown-toggle dd-menu-toggle" aria-haspopup="true" '
                f'aria-expanded="false">{caption}</button><div class="dropdown-menu">{items}</div></div>')

    def all_matching_actions(self) -> list[tuple[str, str]]:
        """(label, url) for running each allowed transition on every row matching the current filters."""
        # The list's own filters and search travel on; words the transition page sets itself never do.
        args = {k: v for k, v in request.args.items()
                if k not in ("page", "page_size", "url", "all", "ids", "action_name")}
        return [(pick(t.label), self.get_url(".transition_view", action_name=n, all=1, url=request.full_path,
                                              **args))
                for n, t in self.allowed_transitions()]

    def matching_selection(self):
        """(SELECT of ids, count) for the rows the list shows for its current search and filters, in scope."""
        ids = self.selection_of(self.list_narrowing())
        count = self.db_session.scalar(select(func.count()).select_from(ids.subquery()))
        return ids, count

    def batch_target(self, target: dict):
        """What a batch job acts on: {"ids": [...]} as they are, or the list's selection for {"search", "filters"}."""
        if "ids" in target:
            return parse_ids(target["ids"])
        return self.selection_of(target)

    def batch_operation(self, name: str) -> Callable:
        """The domain call behind action `name`, as (session, target, *, actor, params): the view's verb or the
        workflow's transition (the engine re-checks state, role, scope and guards of every row)."""
        if name in self.verbs:
            return self.verbs[name].perform
        workflow = self.workflow
        return lambda session, target, *, actor, params: run(session, workflow, name, target, actor=actor,
                                                             params=params)

    @expose("/transition/<action_name>/", methods=("GET", "POST"))
    def transition_view(self, action_name):
        name = action_name
        if name not in self.action_names():
            abort(404)
        return_url = get_redirect_target() or self.get_url(".index_view")
        transition = self.transition_for(name, current_user.role)
        label = self.action_label(name)
        if transition is None:
            flash(f"您的角色（{enum_label(current_user.role)}）无权执行「{label}」，未做任何修改", "error")
            return redirect(return_url)
        if request.values.get("all") == "1":  # a job gets the list's search and filters, never the ids
            job_target = self.list_narrowing()
            target = self.selection_of(job_target)
            count = self.db_session.scalar(select(func.count()).select_from(target.subquery()))
        else:
            target = parse_ids(request.values.get("ids", "").split(","))
            job_target, count = {"ids": target}, len(target)
        form = param_form(transition, self.db_session)()
        single = name in self.verbs and self.verbs[name].single
        if single and count > 1:
            flash(pick((f"「{label}」须逐条办理，请只选择一条记录（当前 {count} 条）",
                        f"“{label}” is done one row at a time; select a single row ({count} selected)")), "error")
            return redirect(return_url)
        if request.method == "POST" and count and form.validate_on_submit():
            if count > inline_rows() and not single and not any(p.kind == "file" for p in transition.params):
                return self._run_in_background(name, label, transition, form, job_target, count)
            stored = []
            try:
                params = self.form_params(transition, form, stored)
                result = self.perform(name, target, params)
                self.db_session.commit()
            except DomainError as exc:
                self.db_session.rollback()
                self._discard(stored)
                self.show_error(form, exc)
            except Exception:
                self.db_session.rollback()
                self._discard(stored)
                raise
            else:
                return self._render_result(name, label, result, return_url)
        return self.render("admin/dd_transition.html", name=name, label=label, transition=transition, form=form,
                           count=count, preview=self._preview(target), all_matching=request.values.get("all") == "1",
                           return_url=return_url, params_labels=[pick(p.label) for p in transition.params],
                           row_name=self.row_name, multipart=any(p.kind == "file" for p in transition.params))

    def perform(self, name, target, params):
        """Run the action: the view's verb when it has one, else the workflow's transition."""
        return self.batch_operation(name)(self.db_session, target, actor=current_user, params=params)

    def _run_in_background(self, name, label, transition, form, target: dict, count: int):
        """More rows than BATCH_INLINE_ROWS: a job of the user's runs the action (jobs/batches.py) on the same
        selection, re-checked in its own transaction; they follow it and get its report on 我的任务."""
        params = {p.name: jsonable(form[p.name].data) for p in transition.params}
        try:
            job_id = submit_batch(current_user._get_current_object(), view=self.endpoint, action=name, label=label,
                                  target=target, params=params, count=count, lang=lang())
        except DomainError as exc:
            flash(str(exc), "error")
            return redirect(request.full_path)
        flash(pick((f"「{label}」共 {count:,} 条，已转为后台任务（任务 {job_id}）；完成后可在本页下载逐条结果",
                    f"“{label}” on {count:,} rows runs in the background (job {job_id}); its per-row report "
                    "downloads here when it is done")), "success")
        return redirect(url_for("jobs.index"))

    def form_params(self, transition, form, stored: list) -> dict:
        """The parameters as the domain takes them: an uploaded file is checked by content and stored first."""
        params = {}
        for p in transition.params:
            value = form[p.name].data
            if p.kind == "file":
                upload = value if getattr(value, "filename", None) else None
                value = None
                if upload is not None:  # a file parameter is named after its kind of document ("voucher")
                    value = files.store(p.name, upload.stream.read(files.MAX_BYTES + 1),
                                        root=current_app.config["UPLOADS_DIR"], field=p.name)
                    stored.append(value)
            params[p.name] = value
        return params

    @staticmethod
    def _discard(stored) -> None:
        """A refused action keeps none of the files it stored."""
        for name in stored:
            files.remove(name, root=current_app.config["UPLOADS_DIR"])

    @staticmethod
    def show_error(form, exc) -> None:
        """A refusal about one parameter shows under its field; any other as a message on the page."""
        field = getattr(exc, "field", None)
        if field and field in form:
            form[field].errors = list(form[field].errors or []) + [str(exc)]
        else:
            flash(str(exc), "error")

    def row_name(self, row) -> str:
        """What names a row on the action pages: the workflow's naming column (an order by its number)."""
        value = getattr(row, self.workflow.name_column, None)
        return "" if value is None else str(value)

    def _preview(self, target):
        """The first rows the action would touch, so the user sees what they selected."""
        query = self.scoped_query().filter(id_in(self.model.id, target)).order_by(self.model.id)
        return query.limit(PREVIEW_ROWS).all()

    def _names(self, ids, session=None):
        """{id: what names the row} for rows in the current user's scope (read through `session`, or the view's)."""
        if not ids:
            return {}
        rows = (session or self.db_session).execute(select(self.model.id, self.workflow.name_of(self.model)).where(
            id_in(self.model.id, ids), self._visible_predicate()))
        return dict(rows.all())

    def _visible_predicate(self):
        from models import visible

        return visible(current_user, self.model)

    def _render_result(self, name, label, result, return_url):
        names = self._names(list(result.skipped))
        skipped = [(row_id, names.get(row_id, ""), reason) for row_id, reason in result.skipped.items()]
        report = self._write_report(label, skipped) if skipped else None
        if result.done:
            flash(f"「{label}」已完成 {len(result.done)} 条" + (f"，{len(skipped)} 条未执行" if skipped else ""),
                  "success")
        return self.render("admin/dd_transition_result.html", label=label, done=len(result.done),
                           skipped=skipped[:RESULT_ROWS_SHOWN], skipped_total=len(skipped), report=report,
                           return_url=return_url, downloads=self.result_downloads(name, result))

    def result_downloads(self, name, result) -> list[tuple[str, str]]:
        """(label, url) of files an action's result offers (a batch refund's bank file); none by default."""
        return []

    def _write_report(self, label, skipped) -> str:
        """Write the skipped rows to an xlsx file only the acting user can download; return its token."""
        folder = current_app.config["REPORTS_DIR"]
        os.makedirs(folder, exist_ok=True)
        token = f"{current_user.id}-{uuid.uuid4().hex}"
        write_table(os.path.join(folder, f"{token}.xlsx"), label, ["编号", "名称", "未执行原因"], skipped)
        return token

    @expose("/transition-report/<token>.xlsx")
    def transition_report(self, token):
        owner, _, key = token.partition("-")
        if owner != str(current_user.id) or not key.isalnum():
            abort(404)
        path = os.path.join(current_app.config["REPORTS_DIR"], f"{token}.xlsx")
        if not os.path.exists(path):
            abort(404)
        return send_file(path, as_attachment=True, download_name="未执行记录.xlsx")
