"""Channels and subscriptions from the page, the command line and the API: the same
operations, CSRF on every form, bad input a 400 (or a usage error) with nothing stored."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.web_client import login, post
from webapp.api.tokens import create_token
from webapp.extensions import db
from webapp.models import NotificationChannel, Subscription

API = "/api/v1"
PAGE = "/profile/notifications/"


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def ada(make_user):
    return make_user("ada")


@pytest.fixture
def bearer(ada):
    token = create_token(ada, "test")[1]
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_the_page_adds_a_webhook_shows_its_key_once_and_subscribes(client, ada):
    login(client, "ada")
    answer = post(client, PAGE + "channels", {"kind": "webhook", "name": "CI",
                                              "target": "https://ci.example.org/hook"},
                  token_from=PAGE)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "shown only this once" in page and "whsec_" in page
    assert "whsec_" not in client.get(PAGE).get_data(as_text=True)
    channel_id = db.session.scalar(sa.select(NotificationChannel.id))
    answer = post(client, PAGE + "subscriptions", {
        "channel": channel_id, "scope": "session", "session": "EchoSession",
        "events": ["failed", "slow"], "only_changed": "y"}, token_from=PAGE)
    assert answer.status_code == 302
    page = client.get(PAGE).get_data(as_text=True)
    assert "runs of EchoSession" in page and "took much longer than usual" in page
    assert "only when output changed" in page
    row = db.session.scalar(sa.select(Subscription))
    assert (row.events, row.only_changed) == (["failed", "slow"], True)
    assert post(client, f"{PAGE}subscriptions/{row.id}/delete", token_from=PAGE).status_code == 302
    assert count(Subscription) == 0


@pytest.mark.parametrize(("url", "data", "message"), [
    ("channels", {"kind": "email", "name": "me", "target": "nobody"}, "enter an email address"),
    ("channels", {"kind": "fax", "name": "me", "target": "a@b.cd"}, "Not a valid choice"),
    ("channels", {"kind": "slack", "name": "", "target": "https://x.org"}, "name the channel"),
    ("subscriptions", {"channel": "999", "scope": "mine", "events": ["failed"]},
     "choose one of your channels"),
    ("subscriptions", {"channel": "0", "scope": "session", "session": "NoSuch",
                       "events": ["failed"]}, "choose one of your channels"),
])
def test_bad_forms_are_a_400_and_store_nothing(client, ada, url, data, message):
    login(client, "ada")
    answer = post(client, PAGE + url, data, token_from=PAGE)
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    assert count(NotificationChannel) == count(Subscription) == 0


def test_bad_subscriptions_on_an_own_channel_are_a_400(client, ada):
    login(client, "ada")
    post(client, PAGE + "channels", {"kind": "email", "name": "me", "target": "a@b.cd"},
         token_from=PAGE)
    channel_id = db.session.scalar(sa.select(NotificationChannel.id))
    for data, message in [({"scope": "session", "session": "NoSuch", "events": ["failed"]},
                           "no session"),
                          ({"scope": "schedule", "schedule": "12", "events": ["failed"]},
                           "no schedule 12"),
                          ({"scope": "mine"}, "events: one or more of")]:
        answer = post(client, PAGE + "subscriptions", {"channel": channel_id, **data},
                      token_from=PAGE)
        assert answer.status_code == 400 and message in answer.get_data(as_text=True)
    assert count(Subscription) == 0


def test_forms_need_their_csrf_token_and_a_login(client, ada):
    assert client.get(PAGE).status_code == 302  # to the login page
    login(client, "ada")
    answer = client.post(PAGE + "channels", data={"kind": "email", "name": "me",
                                                   "target": "a@b.cd"})
    assert answer.status_code == 400 and count(NotificationChannel) == 0


def test_another_users_channel_cannot_be_used_or_deleted(client, ada, make_user):
    from webapp.notifications.subscriptions import create_channel

    channel, _ = create_channel(make_user("eve"), "email", "eve", "eve@example.org")
    db.session.commit()
    login(client, "ada")
    assert post(client, f"{PAGE}channels/{channel.id}/delete", token_from=PAGE).status_code == 404
    answer = post(client, PAGE + "subscriptions", {"channel": channel.id, "scope": "mine",
                                                   "events": ["failed"]}, token_from=PAGE)
    assert answer.status_code == 400 and count(Subscription) == 0
    assert client.get(f"{PAGE}channels/99999999999").status_code == 404


def test_the_api_manages_channels_and_subscriptions(client, ada, bearer):
    answer = client.post(f"{API}/channels", headers=bearer, json={
        "kind": "webhook", "name": "CI", "target": "https://ci.example.org/hook"})
    assert answer.status_code == 201
    channel = answer.get_json()
    assert channel["secret"].startswith("whsec_")
    listed = client.get(f"{API}/channels", headers=bearer).get_json()["channels"]
    assert [c["id"] for c in listed] == [channel["id"]] and "secret" not in listed[0]
    answer = client.post(f"{API}/subscriptions", headers=bearer, json={
        "channel": channel["id"], "scope": "mine", "events": ["failed", "stopped"]})
    assert answer.status_code == 201
    assert answer.get_json()["events"] == ["failed", "stopped"]
    assert len(client.get(f"{API}/subscriptions", headers=bearer).get_json()[
        "subscriptions"]) == 1
    assert client.get(f"{API}/channels/{channel['id']}/deliveries",
                      headers=bearer).get_json()["deliveries"] == []
    assert client.delete(f"{API}/channels/{channel['id']}", headers=bearer).status_code == 204
    assert count(Subscription) == count(NotificationChannel) == 0


@pytest.mark.parametrize(("url", "body", "status", "field"), [
    ("channels", [], 400, None),
    ("channels", {"kind": "email", "name": "x", "target": "x@y.zz", "extra": 1}, 400, None),
    ("channels", {"kind": "email", "name": 5, "target": "x@y.zz"}, 400, "name"),
    ("channels", {"kind": {}, "name": "x", "target": ""}, 400, "kind"),
    ("subscriptions", {"channel": 1, "scope": {}, "events": ["failed"]}, 404, None),
    ("channels", {"kind": "slack", "name": "x", "target": None}, 400, "target"),
    ("subscriptions", {"channel": 1, "scope": "mine", "events": ["failed"]}, 404, None),
    ("subscriptions", {"channel": "1", "scope": "mine", "events": ["failed"]}, 404, None),
    ("subscriptions", {"channel": 2**40, "scope": "mine", "events": ["failed"]}, 404, None),
])
def test_the_api_refuses_bad_bodies(client, bearer, url, body, status, field):
    answer = client.post(f"{API}/{url}", headers=bearer, json=body)
    assert answer.status_code == status
    if field:
        assert field in answer.get_json()["fields"]
    assert count(NotificationChannel) == count(Subscription) == 0


def test_the_api_refuses_a_bad_subscription_on_an_own_channel(client, bearer):
    channel = client.post(f"{API}/channels", headers=bearer, json={
        "kind": "email", "name": "me", "target": "a@b.cd"}).get_json()
    for body, field in [({"scope": "everything", "events": ["failed"]}, "scope"),
                        ({"scope": "mine", "events": "failed"}, "events"),
                        ({"scope": "mine", "events": []}, "events"),
                        ({"scope": "mine", "events": ["failed"], "only_changed": "yes"},
                         "only_changed"),
                        ({"scope": "schedule", "schedule": True, "events": ["failed"]},
                         "schedule")]:
        answer = client.post(f"{API}/subscriptions", headers=bearer,
                             json={"channel": channel["id"], **body})
        assert answer.status_code == 400 and field in answer.get_json()["fields"], body
    assert count(Subscription) == 0


def test_the_command_line_manages_channels_and_subscriptions(runner, ada):
    result = runner.invoke(args=["minke", "notify", "add-channel", "ada", "webhook", "CI",
                                 "https://ci.example.org/hook"])
    assert result.exit_code == 0, result.output
    assert "Signing key (shown only now): whsec_" in result.output
    channel_id = db.session.scalar(sa.select(NotificationChannel.id))
    result = runner.invoke(args=["minke", "notify", "subscribe", "ada", "--channel",
                                 str(channel_id), "--session", "EchoSession", "--on", "failed",
                                 "--on", "slow", "--only-changed"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["minke", "notify", "subscriptions", "ada"]).output
    assert "runs of EchoSession" in listed and "failed,slow" in listed and "yes" in listed
    assert "CI" in runner.invoke(args=["minke", "notify", "channels", "ada"]).output
    from webapp.models import Schedule
    db.session.add(Schedule(name="nightly", session_name="EchoSession", interval=3600,
                            owner_id=ada.id))
    db.session.commit()
    result = runner.invoke(args=["minke", "notify", "subscribe", "ada", "--channel",
                                 str(channel_id), "--schedule", "nightly", "--on", "failed"])
    assert result.exit_code == 0, result.output  # by its name, as minke schedule list shows it
    listed = runner.invoke(args=["minke", "notify", "subscriptions", "ada"]).output
    assert "runs of schedule nightly" in listed
    bad = runner.invoke(args=["minke", "notify", "subscribe", "ada", "--channel",
                              str(channel_id), "--schedule", "weekly", "--on", "failed"])
    assert bad.exit_code == 2 and "unknown schedule: weekly" in bad.output
    bad = runner.invoke(args=["minke", "notify", "subscribe", "ada", "--channel",
                              str(channel_id), "--mine", "--session", "EchoSession",
                              "--on", "failed"])
    assert bad.exit_code == 2 and "exactly one of" in bad.output
    bad = runner.invoke(args=["minke", "notify", "add-channel", "ada", "email", "x", "nope"])
    assert bad.exit_code == 2 and "enter an email address" in bad.output
    bad = runner.invoke(args=["minke", "notify", "channels", "nobody"])
    assert bad.exit_code == 2 and "unknown user" in bad.output
    for row_id in db.session.scalars(sa.select(Subscription.id)).all():
        assert runner.invoke(args=["minke", "notify", "unsubscribe", "ada",
                                   str(row_id)]).exit_code == 0
    assert runner.invoke(args=["minke", "notify", "remove-channel", "ada",
                               str(channel_id)]).exit_code == 0
    assert count(Subscription) == count(NotificationChannel) == 0


def test_the_page_offers_the_users_schedules_and_subscribes_to_one(client, ada, make_user):
    from webapp.models import Schedule
    from webapp.notifications.subscriptions import create_channel

    mine = Schedule(name="nightly", session_name="EchoSession", interval=3600, owner_id=ada.id)
    theirs = Schedule(name="theirs", session_name="EchoSession", interval=60,
                      owner_id=make_user("eve").id)
    channel, _ = create_channel(ada, "email", "me", "ada@example.org")
    db.session.add_all([mine, theirs])
    db.session.commit()
    login(client, "ada")
    page = client.get(PAGE).get_data(as_text=True)
    assert f"nightly (#{mine.id})" in page and "theirs" not in page
    answer = post(client, PAGE + "subscriptions", {"channel": channel.id, "scope": "schedule",
                                                   "schedule": "x1", "events": ["failed"]},
                  token_from=PAGE)
    assert answer.status_code == 400 and "choose one of the schedules" in answer.get_data(
        as_text=True)
    answer = post(client, PAGE + "subscriptions", {"channel": channel.id, "scope": "schedule",
                                                   "schedule": str(mine.id),
                                                   "events": ["failed"]}, token_from=PAGE)
    assert answer.status_code == 302
    assert "runs of schedule nightly" in client.get(PAGE).get_data(as_text=True)


def test_a_webhook_gets_a_new_signing_key_from_its_page(client, ada):
    from webapp.notifications.channels import open_secret
    from webapp.notifications.subscriptions import create_channel

    channel, first = create_channel(ada, "webhook", "ci", "https://ci.example.org/h")
    db.session.commit()
    login(client, "ada")
    url = f"{PAGE}channels/{channel.id}"
    answer = post(client, url + "/secret", token_from=url)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "shown only this once" in page
    db.session.rollback()
    second = open_secret(db.session.get(NotificationChannel, channel.id).sealed_secret)
    assert second != first and second in page
    assert second not in client.get(url).get_data(as_text=True)
