"""群发邮件: the organisations the organisation list shows (filter and scope), previewed, queued, audited."""
from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select

from factories import audit_entries, make_organization
from models import Channel, OutboxMessage, OutboxState


def organizations(session, world):
    gz = [make_organization(session, world.subs["GZ"], name=f"广州群发单位{i}", contact_email=f"gz{i}@example.cn")
          for i in range(3)]
    gz_without_email = make_organization(session, world.subs["GZ"], name="广州无邮箱单位", contact_email=None)
    gz_deleted = make_organization(session, world.subs["GZ"], name="广州已删除单位", deleted=True)
    sz = make_organization(session, world.subs["SZ"], name="深圳群发单位", contact_email="sz@example.cn")
    session.commit()
    return gz, gz_without_email, gz_deleted, sz


def queued(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.template == "mass_mail")
                                .order_by(OutboxMessage.id)))


def test_a_sub_delegation_admin_previews_and_queues_only_their_organisations(session, world, client_for):
    gz, without_email, deleted, sz = organizations(session, world)
    client = client_for(world.admins["GZ"])
    page = client.get("/admin/mass_mail/").text
    assert "共 4 家" in page and "<strong>3</strong> 家填写了联系人邮箱" in page
    assert "广州群发单位0" in page and "广州无邮箱单位" in page and "（无，不发送）" in page
    assert "深圳群发单位" not in page and "广州已删除单位" not in page

    response = client.post("/admin/mass_mail/", data={"subject": "展前培训通知", "body": "请于10月20日参加展前培训。"})
    assert response.status_code == 302 and "/admin/organization/" in response.headers["Location"]
    messages = queued(session)
    assert sorted(m.recipient for m in messages) == ["gz0@example.cn", "gz1@example.cn", "gz2@example.cn"]
    assert {(m.channel, m.state, m.object_type) for m in messages} == {(Channel.EMAIL, OutboxState.PENDING,
                                                                         "organization")}
    assert messages[0].params == {"subject": "展前培训通知", "body": "请于10月20日参加展前培训。"}
    assert {m.sub_delegation_id for m in messages} == {world.subs["GZ"].id}
    entries = audit_entries(session, action="organization.mass_mailed")
    assert sorted(e.object_id for e in entries) == sorted(o.id for o in gz)
    assert {(e.actor_id, e.params["subject"]) for e in entries} == {(world.admins["GZ"].id, "展前培训通知")}


def test_the_list_filter_travels_to_the_page_and_chooses_the_recipients(session, world, client_for):
    gz, *_ = organizations(session, world)
    client = client_for(world.secretariat)
    search = quote("广州群发单位1")
    page = client.get(f"/admin/mass_mail/?search={search}").text
    assert "共 1 家" in page and "广州群发单位1" in page and "广州群发单位0" not in page
    client.post(f"/admin/mass_mail/?search={search}", data={"subject": "主题", "body": "正文"})
    assert [m.recipient for m in queued(session)] == ["gz1@example.cn"]


def test_the_secretariat_reaches_every_sub_delegation(session, world, client_for):
    organizations(session, world)
    client = client_for(world.secretariat)
    assert "<strong>4</strong> 家填写了联系人邮箱" in client.get("/admin/mass_mail/").text
    client.post("/admin/mass_mail/", data={"subject": "主题", "body": "正文"})
    assert len(queued(session)) == 4


def test_viewers_and_finance_may_not_mass_mail(session, world, client_for):
    organizations(session, world)
    for user in (world.viewer, world.finance):
        client = client_for(user)
        assert client.get("/admin/mass_mail/").status_code == 403
        assert client.post("/admin/mass_mail/", data={"subject": "主题", "body": "正文"}).status_code == 403
    assert queued(session) == []


def test_an_empty_message_is_refused_and_nothing_is_queued(session, world, client_for):
    organizations(session, world)
    response = client_for(world.admins["GZ"]).post("/admin/mass_mail/", data={"subject": " ", "body": ""})
    assert response.status_code == 200 and queued(session) == []
    assert audit_entries(session, action="organization.mass_mailed") == []


def test_the_organisation_list_links_to_the_page_with_its_filter(app, session, world, client_for):
    organizations(session, world)
    from views.mass_mail import list_links

    client = client_for(world.admins["GZ"])
    with app.test_request_context("/admin/organization/?search=abc&page=2"):
        from flask_login import login_user

        from admin_app.extensions import db

        login_user(db.session.get(type(world.admins["GZ"]), world.admins["GZ"].id))
        organization_view = next(v for v in app.extensions["admin"][0]._views if v.endpoint == "organization")
        person_view = next(v for v in app.extensions["admin"][0]._views if v.endpoint == "person")
        [(label, url)] = list_links(organization_view)
        assert label == "群发邮件" and url == "/admin/mass_mail/?search=abc"
        assert list_links(person_view) == []
    page = client.get("/admin/organization/?search=abc").text
    assert 'href="/admin/mass_mail/?search=abc">群发邮件</a>' in page
    assert "/admin/mass_mail/?search" not in client.get("/admin/person/?search=abc").text
    assert "/admin/mass_mail/" not in client_for(world.viewer).get("/admin/organization/?search=abc").text
