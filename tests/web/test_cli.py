"""The CLI verbs run the same operations and own their transaction."""
from __future__ import annotations

from sqlalchemy import select

from factories import bulk_persons, make_organization
from models import OrgState, Person, PersonState, User


def run_cli(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def test_create_user_binds_sub_delegations_and_hashes_the_password(app, world, session):
    session.commit()
    result = run_cli(app, "create-user", "gz2", "--role", "sub_delegation_admin", "--sub-delegation", "GZ",
                     "--password", "a-long-password")
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.username == "gz2"))
    assert [s.code for s in user.sub_delegations] == ["GZ"]
    assert user.password_hash.startswith("scrypt:") and "a-long-password" not in user.password_hash


def test_create_user_refuses_an_admin_without_sub_delegation(app, world, session):
    session.commit()
    result = run_cli(app, "create-user", "lost", "--role", "sub_delegation_admin", "--password", "a-long-password")
    assert result.exit_code != 0 and "绑定至少一个交易分团" in result.output


def test_transition_prints_a_line_per_row_and_exit_codes(app, world, session):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    other = make_organization(session, world.subs["SZ"], state=OrgState.APPROVED)
    ids = bulk_persons(session, org, 3, state=PersonState.PENDING_CONFIRMATION)
    foreign = bulk_persons(session, other, 1, state=PersonState.PENDING_CONFIRMATION)
    session.commit()
    admin = world.admins["GZ"].username
    done = run_cli(app, "transition", "person", "confirm_copay", "--as", admin, "--ids", ",".join(map(str, ids)))
    assert done.exit_code == 0, done.output
    assert done.output.count("\tdone") == 3
    skipped = run_cli(app, "transition", "person", "confirm_copay", "--as", admin,
                      "--ids", f"{ids[0]},{foreign[0]}")
    assert skipped.exit_code == 3
    assert "skipped: 不存在或不在您的权限范围内" in skipped.output and "skipped: 当前状态为「待审核」" in skipped.output
    session.expire_all()
    assert session.get(Person, foreign[0]).state is PersonState.PENDING_CONFIRMATION
    error = run_cli(app, "transition", "person", "review_pass", "--as", admin, "--ids", str(ids[0]))
    assert error.exit_code == 1 and "无权执行" in error.output


def test_transition_all_matching_and_params(app, world, session):
    org = make_organization(session, world.subs["GZ"], state=OrgState.SUBMITTED)
    make_organization(session, world.subs["GZ"], state=OrgState.DRAFT)
    session.commit()
    result = run_cli(app, "transition", "organization", "return_for_edit", "--as", world.secretariat.username,
                     "--all-matching", "state=submitted", "--param", "reason=请补充营业执照")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{org.id}\tdone")
    session.expire_all()
    assert session.get(type(org), org.id).return_reason == "请补充营业执照"
    bad = run_cli(app, "transition", "organization", "approve", "--as", world.secretariat.username,
                  "--all-matching", "nosuchfield=1")
    assert bad.exit_code != 0
