"""The summary email's pure rules: greeting, placeholders, what is missing, the mailto link."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from jupyterhub_onboarding.core.links import Link, LinkSettings, resolve_links
from jupyterhub_onboarding.core.summary_email import (
    MAILTO_MAX_LENGTH,
    SummaryEmail,
    greeting,
    is_unset,
    mailto_link,
    summary_email,
)

HUB = "https://hub.example.org"
COMPLETE_LINKS = LinkSettings(
    templates=(
        ("admin_dashboard_url", "{hub_url}/hub/admin"),
        ("provider_docs_url", "https://docs.2i2c.org/"),
        ("community_docs_url", "https://docs.{host}"),
        ("grafana_cost_url", "https://grafana.example.org/d/cost"),
        ("grafana_usage_url", "https://grafana.example.org/d/usage"),
    ),
    support_email="support@2i2c.org",
)


def email_for(links=COMPLETE_LINKS, hub_url=HUB, **names):
    defaults = {
        "contact_name": "Ada",
        "community_name": "Example Lab",
        "customer_email": "ada@example.org",
        "sender_name": "Jo Rivera",
        "first_invoice": "at the start of next month",
    }
    return summary_email(
        None,
        resolve_links(links, hub_url),
        hub_url=hub_url,
        support_email=links.support_email,
        response_time="one business day",
        threshold=5,
        **{**defaults, **names},
    )


@pytest.mark.parametrize(
    ("contact", "community", "expected"),
    [
        ("Ada", "Example Lab", "Hi Ada,"),
        ("Ada", "", "Hi Ada,"),
        ("", "Example Lab", "Hi Example Lab team,"),
        ("", "the Demo Community", "Hi Demo Community team,"),
        ("", "the Demo Community team", "Hi Demo Community team,"),
        ("", "Example Lab Team", "Hi Example Lab Team,"),
        ("", "", "Hello,"),
        ("[Customer Name]", "", "Hello,"),
        ("  ", "  ", "Hello,"),
    ],
)
def test_greeting(contact, community, expected):
    assert greeting(contact, community) == expected


@pytest.mark.parametrize(
    ("value", "unset"),
    [("", True), ("   ", True), ("[AM Name]", True), ("Jo Rivera", False), ("[Jo", False)],
)
def test_a_bracketed_placeholder_counts_as_unset(value, unset):
    assert is_unset(value) is unset


def test_complete_settings_give_an_email_to_send_as_it_is():
    email = email_for()
    assert email.ready and email.missing == ()
    assert email.body.startswith("Hi Ada,\n\nThank you for joining us for the Example Lab ")
    assert email.subject == "Your 2i2c JupyterHub Onboarding Summary: Example Lab"
    assert "[" not in email.body and "not set up" not in email.body
    assert "- Usage Dashboard: https://grafana.example.org/d/usage" in email.body
    assert email.body.rstrip().endswith("Jo Rivera\nAccount Manager, 2i2c")


def test_community_only_greets_the_team_and_thanks_for_its_session():
    email = email_for(contact_name="", community_name="the Demo Community team")
    assert email.body.startswith("Hi Demo Community team,\n")
    assert "the Demo Community team onboarding session" in email.body
    assert "Hi the " not in email.body


def test_the_older_customer_name_is_the_contact_name():
    email = email_for(contact_name="", community_name="", customer_name="Grace")
    assert email.body.startswith("Hi Grace,\n")
    assert "OnboardingEmail.contact_name" not in {m.setting for m in email.missing}


def test_links_not_set_up_are_left_out_and_listed_with_their_setting():
    links = LinkSettings(
        templates=(("admin_dashboard_url", "{hub_url}/hub/admin"),), support_email="s@x.org"
    )
    email = email_for(links=links)
    assert "Cost Monitoring Dashboard" not in email.body
    assert "Usage Dashboard" not in email.body
    assert "Your Hub Documentation" not in email.body
    assert f"- Administrator Dashboard: {HUB}/hub/admin" in email.body
    missing = {m.setting: m for m in email.missing}
    assert missing["StandardLinks.grafana_cost_url"].shown_as == "left out"
    assert missing["StandardLinks.grafana_usage_url"].what == "The Usage Dashboard link"
    assert "StandardLinks.community_docs_url" in missing
    assert "StandardLinks.admin_dashboard_url" not in missing


def test_unset_names_become_bracketed_placeholders_and_are_listed():
    links = LinkSettings(templates=COMPLETE_LINKS.templates, support_email="")
    email = email_for(
        links=links,
        hub_url="",
        contact_name="",
        community_name="",
        customer_email="",
        sender_name="",
        first_invoice="",
    )
    body = email.body
    assert body.startswith("Hello,\n")
    assert "Your hub is live at: [hub URL]" in body
    assert "email us at: [support email address]" in body
    assert "first invoice [timeframe]." in body
    assert "\n[AM Name]\n" in body
    assert {m.setting: m.shown_as for m in email.missing} == {
        "OnboardingEmail.contact_name or OnboardingEmail.community_name": "Hello,",
        "OnboardingEmail.customer_email": "no recipient",
        "Onboarding.public_url": "[hub URL]",
        "StandardLinks.support_email": "[support email address]",
        "OnboardingEmail.first_invoice": "[timeframe]",
        "OnboardingEmail.account_manager": "[AM Name]",
        # {hub_url} and {host} links cannot be derived without the hub's URL
        "StandardLinks.admin_dashboard_url": "left out",
        "StandardLinks.community_docs_url": "left out",
    }
    assert not email.ready


def test_mailto_carries_recipient_subject_and_body():
    email = email_for()
    link = mailto_link(email, "ada@example.org")
    assert link is not None and len(link) <= MAILTO_MAX_LENGTH
    parts = urlsplit(link)
    assert parts.scheme == "mailto" and unquote(parts.path) == "ada@example.org"
    query = parse_qs(parts.query, keep_blank_values=True)
    assert query["subject"] == [email.subject]
    # RFC 6068: line breaks as CRLF
    assert query["body"][0] == email.body.replace("\n", "\r\n")
    assert "+" not in parts.query  # spaces are %20: a "+" would show in the mail app


def test_mailto_without_a_recipient_is_still_valid():
    link = mailto_link(email_for(), "")
    assert link is not None and link.startswith("mailto:?subject=")


def test_mailto_keeps_several_recipients_and_escapes_hostile_text():
    hostile = SummaryEmail("S&body=evil", "a&b=c?d#e\nline")
    link = mailto_link(hostile, "a@example.org,b@example.org")
    assert link.startswith("mailto:a@example.org,b@example.org?subject=S%26body%3Devil&body=")
    query = parse_qs(urlsplit(link).query)
    assert query == {"subject": ["S&body=evil"], "body": ["a&b=c?d#e\r\nline"]}


def test_mailto_beyond_the_length_mail_clients_accept_is_not_offered():
    long = SummaryEmail("Subject", "x" * (MAILTO_MAX_LENGTH + 1))
    assert mailto_link(long, "ada@example.org") is None
    fits = SummaryEmail("S", "x" * 100)
    assert mailto_link(fits, "", max_length=len("mailto:?subject=S&body=") + 100) is not None
    assert mailto_link(fits, "", max_length=len("mailto:?subject=S&body=") + 99) is None


def test_after_first_value_the_email_says_when():
    from jupyterhub_onboarding.core.snapshot import (
        Aggregates,
        Settings,
        TrackerState,
        build_snapshot,
    )

    now = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
    reached = datetime(2026, 11, 8, 9, 0, tzinfo=timezone.utc)
    snapshot = build_snapshot(
        Aggregates(users_logged_in=5, nth_seen_at={"login": reached}),
        Settings(hub_url=HUB, live_since=datetime(2026, 11, 1, tzinfo=timezone.utc)),
        TrackerState(last_success_at=now),
        now,
    )
    email = summary_email(
        snapshot,
        [Link("admin_dashboard_url", "hub", "Admin", f"{HUB}/hub/admin")],
        hub_url=HUB,
        support_email="support@2i2c.org",
        response_time="",
        threshold=5,
        contact_name="Ada",
    )
    assert "moment of first value on 2026-11-08" in email.body


# -- the meeting's day, the dashboards set up, the provider's name (#19) --------------------


@pytest.mark.parametrize(
    ("held_on", "words"),
    [
        (date(2026, 12, 4), "the Example Lab onboarding session today!"),
        (date(2026, 12, 3), "the Example Lab onboarding session yesterday!"),
        (date(2026, 11, 27), "the Example Lab onboarding session on 27 November 2026!"),
        (None, "the Example Lab onboarding session!"),
    ],
)
def test_the_meeting_is_worded_by_its_recorded_date(held_on, words):
    email = email_for(meeting_date=held_on, today=date(2026, 12, 4))
    assert f"Thank you for joining us for {words} Here's a quick summary" in email.body


def without(*keys):
    kept = tuple(item for item in COMPLETE_LINKS.templates if item[0] not in keys)
    return replace(COMPLETE_LINKS, templates=kept)


@pytest.mark.parametrize(
    ("links", "sentence"),
    [
        (COMPLETE_LINKS, "You can monitor both in the Usage and Cost Monitoring Dashboards"),
        (without("grafana_cost_url"), "You can follow your Monthly Active Users in the Usage"),
        (without("grafana_usage_url"), "You can follow your cloud costs in the Cost Monitoring"),
    ],
)
def test_only_dashboards_that_are_set_up_are_mentioned(links, sentence):
    body = email_for(links=links).body
    assert sentence in body and "dashboards we reviewed" not in body


def test_without_dashboards_the_email_points_to_none():
    body = email_for(links=without("grafana_cost_url", "grafana_usage_url")).body
    assert "Dashboards" not in body and "Dashboard linked" not in body and "monitor" not in body


def test_the_provider_name_comes_from_configuration():
    email = email_for(provider_name="Acme Hosting")
    assert email.subject == "Your Acme Hosting JupyterHub Onboarding Summary: Example Lab"
    assert "- Acme Hosting Documentation: https://docs.2i2c.org/" in email.body
    assert email.body.rstrip().endswith("Jo Rivera\nAccount Manager, Acme Hosting")
    assert "2i2c JupyterHub" not in email.body + email.subject
    titled = email_for(provider_name="Acme Hosting", sender_title="Partnerships, Acme")
    assert titled.body.rstrip().endswith("Jo Rivera\nPartnerships, Acme")
