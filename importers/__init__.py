"""Spreadsheets in: typed rows, a validation report, then the domain operations in one transaction.

    from importers import IMPORTERS, run_import
    result = run_import(session, "quotas", data, "额度.xlsx", actor=user, lang="zh", dry_run=True)

Kinds: targets (招商任务), quotas (额度预分配), registration (批量注册), review (人员审核结果),
payments (支付对账单). Each has a template: importers.templates.template(IMPORTERS[kind]).
"""
from importers.base import ImportResult, Importer, Progress, run_import
from importers.payments import PaymentsImporter
from importers.quotas import QuotasImporter
from importers.registration import RegistrationImporter
from importers.review import ReviewImporter
from importers.targets import TargetsImporter

IMPORTERS: dict[str, Importer] = {i.kind: i for i in (TargetsImporter(), QuotasImporter(), RegistrationImporter(),
                                                      ReviewImporter(), PaymentsImporter())}

__all__ = ["IMPORTERS", "ImportResult", "Importer", "Progress", "run_import"]
