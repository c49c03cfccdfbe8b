"""Workflow actions in the back office: bulk actions, row buttons and parameter pages, all from the tables."""
from __future__ import annotations

import os
import uuid

from flask import abort, current_app, flash, redirect, request, send_file
from flask_admin import expose
from flask_admin.helpers import get_redirect_target
from flask_admin.model.template import BaseListRowAction
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from sqlalchemy import func, select

from models import DomainError
from models.ids import id_in, parse_ids
from models.engine import Workflow, run
from reports.xlsx import write_table
from views.i18n import enum_label, pick, tr

PREVIEW_ROWS = 20
RESULT_ROWS_SHOWN = 500


class TransitionButton(BaseListRowAction):
    """A row button shown only on rows whose state the transition starts from."""

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


def param_form(transition, session):
    """A WTForms form for the transition's parameters: each parameter's kind makes its field."""

    class ParamForm(FlaskForm):
        pass

    for p in transition.params:
        setattr(ParamForm, p.name, p.form_field(tr(p.label), session))
    return ParamForm


class WorkflowActionsMixin:
    """Mixed into ScopedModelView for models that have a workflow table."""

    workflow: Workflow

    def init_actions(self):
        """One bulk action per transition name of the table; nothing else is registered by hand."""
        self._actions, self._actions_data = [], {}
        for name in self.workflow.names():
            label = tr(self.workflow.label(name))
            self._actions.append((name, label))
            self._actions_data[name] = (lambda ids, name=name: self._to_transition_page(name, ids), label, None)

    def is_action_allowed(self, name) -> bool:
        return name in self.workflow.names() and self.workflow.for_role(name, current_user.role) is not None

    def _to_transition_page(self, name, ids):
        return redirect(self.get_url(".transition_view", action_name=name, ids=",".join(ids),
                                     url=get_redirect_target() or self.get_url(".index_view")))

    def get_list_row_actions(self):
        actions = list(super().get_list_row_actions())
        for name in self.workflow.allowed_names(current_user.role):
            actions.append(TransitionButton(self, name, self.workflow.for_role(name, current_user.role)))
        return actions

    def all_matching_actions(self) -> list[tuple[str, str]]:
        """(label, url) for running each allowed transition on every row matching the current filters."""
        args = {k: v for k, v in request.args.items() if k not in ("page", "page_size")}
        return [(pick(self.workflow.label(n)), self.get_url(".transition_view", action_name=n, all=1,
                                                               url=request.full_path, **args))
                for n in self.workflow.allowed_names(current_user.role)]

    def matching_selection(self):
        """(SELECT of ids, count) for the rows matching the list's current search and filters, in scope."""
        view_args = self._get_list_extra_args()
        query, joins = self.scoped_query(), {}
        if self._search_supported and view_args.search:
            query, _, joins, _ = self._apply_search(query, None, joins, {}, view_args.search)
        if view_args.filters and self._filters:
            query, _, joins, _ = self._apply_filters(query, None, joins, {}, view_args.filters)
        ids = query.with_entities(self.model.id).statement
        count = self.db_session.scalar(select(func.count()).select_from(ids.subquery()))
        return ids, count

    @expose("/transition/<action_name>/", methods=("GET", "POST"))
    def transition_view(self, action_name):
        name = action_name
        if name not in self.workflow.names():
            abort(404)
        return_url = get_redirect_target() or self.get_url(".index_view")
        transition = self.workflow.for_role(name, current_user.role)
        label = pick(self.workflow.label(name))
        if transition is None:
            flash(f"您的角色（{enum_label(current_user.role)}）无权执行「{label}」，未做任何修改", "error")
            return redirect(return_url)
        if request.values.get("all") == "1":
            target, count = self.matching_selection()
        else:
            target = parse_ids(request.values.get("ids", "").split(","))
            count = len(target)
        form = param_form(transition, self.db_session)()
        if request.method == "POST" and count and form.validate_on_submit():
            params = {p.name: form[p.name].data for p in transition.params}
            try:
                result = run(self.db_session, self.workflow, name, target, actor=current_user, params=params)
                self.db_session.commit()
            except DomainError as exc:
                self.db_session.rollback()
                flash(str(exc), "error")
            except Exception:
                self.db_session.rollback()
                raise
            else:
                return self._render_result(name, label, result, return_url)
        return self.render("admin/dd_transition.html", name=name, label=label, transition=transition, form=form,
                           count=count, preview=self._preview(target), all_matching=request.values.get("all") == "1",
                           return_url=return_url, params_labels=[pick(p.label) for p in transition.params])

    def _preview(self, target):
        """The first rows the action would touch, so the user sees what they selected."""
        query = self.scoped_query().filter(id_in(self.model.id, target)).order_by(self.model.id)
        return query.limit(PREVIEW_ROWS).all()

    def _names(self, ids):
        if not ids:
            return {}
        rows = self.db_session.execute(select(self.model.id, self.model.name).where(
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
                           return_url=return_url)

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
