"""Hostile input: API fuzzing, every route under every kind of credential, no leaked names.

The integration tests share one real hub (with the real proxy) for the module. The
property-based tests at the end need no hub.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import schemathesis
from harness.hub import HubProcess, running_hub
from harness.servicelog import leaks, service_lines
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from tornado.web import create_signed_value, decode_signed_value

from jupyterhub_onboarding.core.hubmodel import ServerSeen, UserSeen, parse_page
from jupyterhub_onboarding.core.rules import CountingRules, month_label, month_of
from jupyterhub_onboarding.service.schema import activity, milestones, users
from jupyterhub_onboarding.service.store import Store

ROOT = Path(__file__).parent.parent
UTC = timezone.utc
SECRET_USERS = ("zz-secret-user-1", "zz-secret-user-2", "zz-secret-user-3")
VIEWER = "zz-secret-viewer"
MEMBER = "zz-secret-member"
COOKIE = "service-onboarding"

SERVICE_CONFIG = """
c.Onboarding.log_level = "INFO"
c.Onboarding.first_value_threshold = 3
c.Onboarding.billing_pseudonym_key = "hostile-test-key"
"""
# a non-admin the hub lets through to the service: the pages must still refuse them
HUB_CONFIG = f"""
c.JupyterHub.load_roles.append(
    {{"name": "onboarding-viewer", "scopes": ["access:services!service=onboarding"],
      "users": [{VIEWER!r}]}}
)
"""


@dataclass
class Hostile:
    hub: HubProcess
    admin: httpx.Client
    viewer: httpx.Client
    member: httpx.Client
    member_token: str
    scopeless_token: str

    @property
    def cookie_secret(self) -> bytes:
        return (self.hub.service_dir / "jupyterhub_onboarding_cookie_secret").read_bytes().strip()

    def service_cookie(self, client: httpx.Client) -> str:
        return client.cookies.get(COOKIE, path="/services/onboarding/")


def oauth_login(hub: HubProcess, name: str) -> httpx.Client:
    """Log in to the hub, then to the service through the hub's OAuth flow."""
    client = hub.login(name)
    client.get(hub.service_url)
    return client


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hostile")
    with running_hub(workdir, service_config=SERVICE_CONFIG, hub_config=HUB_CONFIG) as hub:
        admin = oauth_login(hub, "admin")
        assert admin.cookies.get(COOKIE, path="/services/onboarding/"), "admin has no cookie"
        viewer = oauth_login(hub, VIEWER)
        assert viewer.cookies.get(COOKIE, path="/services/onboarding/"), "viewer has no cookie"
        member = hub.login(MEMBER)
        for name in SECRET_USERS:
            hub.login(name).close()
        member_token = hub.api("POST", f"users/{MEMBER}/tokens", json={}).json()["token"]
        scopeless = hub.api(
            "POST", f"users/{MEMBER}/tokens", json={"scopes": [f"read:users:name!user={MEMBER}"]}
        ).json()["token"]
        hub.wait_for_status(lambda s: s["first_value"]["users_logged_in"] == 6)
        state = Hostile(hub, admin, viewer, member, member_token, scopeless)
        yield state
        for client in (admin, viewer, member):
            client.close()


# -- schemathesis against the OpenAPI file ---------------------------------------------------


SCHEMA = schemathesis.openapi.from_path(ROOT / "docs" / "openapi.yaml")
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}


def fuzz(operation, mode, check) -> None:
    """Run *check* on cases schemathesis generates for *operation* (its own hypothesis run;
    schemathesis' pytest plugin does not support pytest 9)."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def run(case):
        check(case)

    run()


#: Operations a status reader's token may call: every read except one event (there are none).
READS = sorted(label for label in OPERATIONS if label.startswith("GET ") and "{id}" not in label)


@pytest.mark.parametrize("label", READS)
def test_status_api_fuzz_with_a_valid_token(hostile, label):
    base_url = hostile.hub.url + "/services/onboarding"
    headers = {"Authorization": f"token {hostile.hub.status_token}"}

    current = hostile.hub.status()["mau"]["month"]

    def check(case):
        response = case.call_and_validate(base_url=base_url, headers=headers, timeout=10)
        month = (case.path_parameters or {}).get("month")
        # the billing of a month that has not begun is not found; every other read answers
        assert response.status_code == (404 if month and month > current else 200)
        if month:
            assert not any(name in response.text for name in all_names())

    fuzz(OPERATIONS[label], schemathesis.GenerationMode.POSITIVE, check)


@pytest.mark.parametrize(
    ("label", "mode"),
    [
        ("GET /api/v1/status", schemathesis.GenerationMode.POSITIVE),
        ("GET /api/v1/status", schemathesis.GenerationMode.NEGATIVE),
        ("GET /health", schemathesis.GenerationMode.POSITIVE),  # nothing to negate
    ],
    ids=lambda value: getattr(value, "value", value),
)
def test_status_api_fuzz_with_generated_credentials(hostile, label, mode):
    """Whatever schemathesis sends as a token: only documented answers, never a 5xx."""
    base_url = hostile.hub.url + "/services/onboarding"

    def check(case):
        case.call_and_validate(base_url=base_url, timeout=10)

    fuzz(OPERATIONS[label], mode, check)


# what HTTP allows in a Host header (RFC 3986 reg-name and a port): sub-delims included,
# the quotes and parentheses a link could be broken with among them. Not the comma: tornado
# itself answers 400 to that before any handler runs (checked below).
hosts = st.text(st.sampled_from("abcXYZ019-._~!$&'()*+;=:"), min_size=1, max_size=60)


@given(host=hosts, proto=st.sampled_from(["http", "https", "javascript", "x" * 40]))
@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_hostile_host_headers_never_break_the_status(hostile, host, proto):
    """The hub URL may come from the request's Host header: a hostile one is never echoed."""
    operation = OPERATIONS["GET /api/v1/status"]
    case = operation.Case(
        headers={
            "Authorization": f"token {hostile.hub.status_token}",
            "Host": host,
            "X-Forwarded-Proto": proto,
        }
    )
    response = case.call_and_validate(base_url=hostile.hub.url + "/services/onboarding")
    assert response.status_code == 200
    url = response.json()["hub"]["url"]
    assert url is None or re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]{1,255}", url), url


def test_host_header_with_a_comma_is_a_bad_request(hostile):
    response = httpx.get(
        f"{hostile.hub.service_url}api/v1/status",
        headers={"Authorization": f"token {hostile.hub.status_token}", "Host": "a,b"},
    )
    assert response.status_code == 400


# -- the access matrix -------------------------------------------------------------------------

API_ROUTES = ("api/v1/status", "metrics")
CSV_ROUTE = "usage.csv?month=2026-11"
BUCKET_ROUTE = "usage/users?bucket=last_login:under_1d"
PAGE_ROUTES = ("", "summary", "summary.txt", CSV_ROUTE, BUCKET_ROUTE)
UNKNOWN_ROUTES = ("api/v1/nothing", "no-such-page")
ROUTES = (*API_ROUTES, "health", *PAGE_ROUTES, "oauth_callback", *UNKNOWN_ROUTES)
IDENTITIES = (
    "anonymous",
    "non-admin hub login",
    "non-admin token",
    "token lacking the scope",
    "garbage token",
    "forged cookie",
    "expired cookie",
    "garbage cookie",
    "signed cookie with a garbage token",
    "non-admin with access",
    "admin",
)


def request_as(hostile: Hostile, identity: str, route: str) -> httpx.Response:
    url = hostile.hub.service_url + route
    admin_cookie = hostile.service_cookie(hostile.admin)
    admin_token = decode_signed_value(hostile.cookie_secret, COOKIE, admin_cookie).decode()
    cookies = None
    headers: dict[str, str | bytes] = {}
    client: httpx.Client | None = None
    if identity == "non-admin hub login":
        client = hostile.member
    elif identity == "non-admin with access":
        client = hostile.viewer
    elif identity == "admin":
        client = hostile.admin
    elif identity == "non-admin token":
        headers["Authorization"] = f"token {hostile.member_token}"
    elif identity == "token lacking the scope":
        headers["Authorization"] = f"token {hostile.scopeless_token}"
    elif identity == "garbage token":
        headers["Authorization"] = "token \u00e9' OR 1=1 -- <script>".encode("latin-1")
    elif identity == "forged cookie":
        # a real admin token, signed with a secret that is not the service's
        forged = create_signed_value(b"not-the-secret" * 4, COOKIE, admin_token)
        cookies = {COOKIE: forged.decode()}
    elif identity == "expired cookie":
        # a real admin token, correctly signed, 40 days ago (tornado accepts 31)
        old = time.time() - 40 * 86400
        expired = create_signed_value(hostile.cookie_secret, COOKIE, admin_token, clock=lambda: old)
        cookies = {COOKIE: expired.decode()}
    elif identity == "garbage cookie":
        cookies = {COOKIE: "2|1:0|10:1|garbage|" + "A" * 300}
    elif identity == "signed cookie with a garbage token":
        cookies = {COOKIE: create_signed_value(hostile.cookie_secret, COOKIE, "0" * 32).decode()}
    if client is not None:
        return client.get(url, follow_redirects=False)
    return httpx.get(url, headers=headers, cookies=cookies, follow_redirects=False, timeout=30)


def expected(identity: str, route: str) -> tuple[int, str]:
    """The documented answer: (status, kind) with kind json, html, text, metrics or login."""
    admin = identity == "admin"
    access = identity in ("admin", "non-admin with access")
    has_token = identity in ("non-admin token", "token lacking the scope")
    if route == "health":
        return 200, "json"
    if route in UNKNOWN_ROUTES:
        return 404, "json"
    if route == "oauth_callback":
        return 400, "html"  # no OAuth code or state: a bad request, whoever asks
    if route in API_ROUTES:
        if access:
            return 200, "json" if route == "api/v1/status" else "metrics"
        return (403, "json") if has_token else (401, "json")
    # pages: hub login for the unidentified, the 403 page for the identified non-admin
    if admin:
        if route == CSV_ROUTE:
            return 200, "csv"
        return 200, "text" if route == "summary.txt" else "html"
    if access or has_token:
        return 403, "html"
    return 302, "login"


@pytest.mark.parametrize("identity", IDENTITIES)
def test_access_matrix(hostile, identity):
    wrong = []
    for route in ROUTES:
        response = request_as(hostile, identity, route)
        status, kind = expected(identity, route)
        content_type = response.headers.get("content-type", "")
        ok = response.status_code == status
        if ok and kind == "json":
            body = response.json()
            ok = content_type.startswith("application/json") and (
                status == 200 or body["status"] == status
            )
        elif ok and kind == "html":
            ok = content_type.startswith("text/html")
        elif ok and kind == "text":
            ok = content_type.startswith("text/plain")
        elif ok and kind == "csv":
            ok = content_type.startswith("text/csv") and (
                response.headers.get("cache-control") == "no-store"
            )
        elif ok and kind == "metrics":
            ok = "jupyterhub_onboarding_users_logged_in" in response.text
        elif ok and kind == "login":
            ok = response.headers["location"].startswith("/hub/api/oauth2/authorize?")
        if not ok:
            wrong.append((route, response.status_code, content_type, response.text[:100]))
    assert wrong == [], f"{identity}: undocumented answers {wrong}"


def test_non_admin_with_hub_login_is_refused_by_the_hub(hostile):
    """The hub itself refuses the OAuth step for a user without access to the service."""
    response = hostile.member.get(hostile.hub.service_url, follow_redirects=True)
    assert response.status_code == 403
    assert "/hub/api/oauth2/authorize" in str(response.url)
    assert COOKIE not in {cookie.name for cookie in hostile.member.cookies.jar}


def test_json_endpoints_never_redirect_and_posts_are_refused(hostile):
    url = hostile.hub.service_url
    for route in API_ROUTES:
        response = hostile.member.get(url + route, follow_redirects=False)
        assert response.status_code == 401, route
        post = httpx.post(url + route, follow_redirects=False)
        assert post.status_code in (403, 405), route
        assert post.headers["content-type"].startswith("application/json"), route
    for route in PAGE_ROUTES:
        post = hostile.admin.post(url + route, follow_redirects=False)
        assert post.status_code in (403, 405), route
    bare = httpx.get(url.rstrip("/"), follow_redirects=False)
    assert bare.status_code in (301, 302) and bare.headers["location"] == "/services/onboarding/"


@pytest.mark.integration
def test_metrics_scrape_without_authentication_when_configured(tmp_path):
    """``authenticate_prometheus = False`` (documented in metrics.py): open to any scraper."""
    config = "c.Onboarding.authenticate_prometheus = False\n"
    with running_hub(tmp_path, service_config=config) as hub:
        response = httpx.get(f"{hub.service_url}metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        # the status API stays protected
        assert httpx.get(f"{hub.service_url}api/v1/status").status_code == 401


# -- usernames and tokens never leak ---------------------------------------------------------


def all_names() -> list[str]:
    return [*SECRET_USERS, VIEWER, MEMBER]


def test_usernames_never_in_status_or_metrics(hostile):
    hub = hostile.hub
    status = httpx.get(
        f"{hub.service_url}api/v1/status",
        headers={"Authorization": f"token {hub.status_token}"},
    ).text
    metrics = httpx.get(
        f"{hub.service_url}metrics", headers={"Authorization": f"token {hub.status_token}"}
    ).text
    health = httpx.get(f"{hub.service_url}health").text
    assert '"users_logged_in": 6' in status
    assert "jupyterhub_onboarding_users_logged_in 6.0" in metrics
    for text in (status, metrics, health):
        assert not any(name in text for name in all_names())
    # "admin" is also a word of the configured links (the report section's "Hub administrator
    # guide", {hub}/hub/admin): checked everywhere but there
    document = json.loads(status)
    links = document["report"].pop("links")
    assert all(set(link) == {"group", "label", "url"} for link in links)
    for text in (json.dumps(document), metrics, health):
        assert "admin" not in text


@pytest.mark.parametrize("report_format", ["json", "csv", "table", "html"])
def test_usernames_never_in_collector_output(hostile, tmp_path, report_format):
    hub = hostile.hub
    hubs = tmp_path / "hubs.yaml"
    hubs.write_text(f"hubs:\n  - name: test-hub\n    hub_url: {hub.url}\n    token_env: HUB_T\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyterhub_onboarding",
            "collect",
            "--hubs",
            str(hubs),
            "--format",
            report_format,
        ],
        capture_output=True,
        text=True,
        env={"HUB_T": hub.status_token, "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "test-hub" in result.stdout
    output = result.stdout + result.stderr
    assert not any(name in output for name in all_names())
    assert hub.status_token not in output


def test_no_usernames_or_tokens_in_service_log(hostile):
    hub = hostile.hub
    # failed and refused requests are logged too: make some
    for identity in ("garbage token", "non-admin token", "expired cookie"):
        request_as(hostile, identity, "api/v1/status")
    hostile.hub.wait_for_status(lambda s: s["tracker"]["last_success_at"] is not None)
    lines = service_lines(hub.log_path)
    assert any("Onboarding]" in line and "poll recorded" in line for line in lines)
    assert not any(line.startswith("[D ") for line in lines), "log_level INFO"
    assert leaks(lines, all_names()) == []
    cookies = [hostile.service_cookie(c) for c in (hostile.admin, hostile.viewer)]
    tokens = [
        hub.status_token,
        hub.admin_token,
        hostile.member_token,
        hostile.scopeless_token,
        *cookies,
        *(decode_signed_value(hostile.cookie_secret, COOKIE, c).decode() for c in cookies),
    ]
    assert leaks(lines, tokens) == []
    # the hub's own lines do name them (so the check above looked at the right file)
    assert SECRET_USERS[0] in hub.log_path.read_text()


# -- property-based: the parser and the store --------------------------------------------------

BASE = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


@given(
    st.datetimes(
        min_value=datetime(1, 1, 1),
        max_value=datetime(9999, 12, 31),
        timezones=st.timezones(),
    )
)
@example(datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))))
@example(datetime(9999, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1))))
@settings(max_examples=200)
def test_any_timestamp_with_any_offset_is_parsed_or_rejected(moment):
    """A user entry with an odd ``last_activity`` is rejected; it never stops the page."""
    body = [{"name": "odd", "last_activity": moment.isoformat()}, {"name": "fine"}]
    page = parse_page(body)
    assert [user.name for user in page.users][-1] == "fine"
    assert len(page.users) + len(page.rejected) == 2


RULES = CountingRules(excluded_pattern=re.compile(r"x-.*"))
names = st.sampled_from(["a", "b", "c", "d", "e", "f", "x-staff"])
moments = st.integers(min_value=-80 * 24, max_value=48).map(lambda h: BASE + timedelta(hours=h))
servers = st.lists(
    st.builds(
        ServerSeen,
        name=st.sampled_from(["", "gpu"]),
        running=st.booleans(),
        started=st.none() | moments,
        last_activity=st.none() | moments,
    ),
    max_size=2,
).map(tuple)
observations = st.builds(
    UserSeen,
    name=names,
    admin=st.booleans(),
    last_activity=st.none() | moments,
    servers=servers,
)
# each poll: what it saw, how much later than the previous poll it ran, and if it was full
polls = st.lists(
    st.tuples(
        st.lists(observations, max_size=6),
        st.integers(min_value=0, max_value=20 * 24),
        st.booleans(),
    ),
    min_size=1,
    max_size=6,
)


class Model:
    """What the store should know after a sequence of polls: the definitions, by hand."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.logged_in: set[str] = set()
        self.started: set[str] = set()
        self.last_login: dict[str, datetime] = {}
        self.months: dict[tuple[str, int], set[str]] = {}

    def record(self, seen: list[UserSeen], now: datetime) -> None:
        merged: dict[str, list[UserSeen]] = {}
        for user in seen:
            merged.setdefault(user.name, []).append(user)
        for name, views in merged.items():
            self.known.add(name)
            times = [v.last_activity for v in views if v.last_activity is not None]
            if times:
                when = min(max(times), now)
                self.logged_in.add(name)
                self.last_login[name] = max(self.last_login.get(name, when), when)
                self.months.setdefault(("login", month_of(when)), set()).add(name)
            for server in (s for v in views for s in v.servers if s.running):
                self.started.add(name)
                for when in (now, server.started, server.last_activity):
                    if when is not None:
                        month = month_of(min(when, now))
                        self.months.setdefault(("server", month), set()).add(name)

    def counted(self, names_: set[str]) -> set[str]:
        return {n for n in names_ if RULES.is_counted(n, False)}


def table_dump(store: Store) -> dict[str, list]:
    with store.engine.connect() as conn:
        return {
            table.name: [
                tuple(row)
                for row in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in (users, activity, milestones)
        }


@given(polls)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_store_record_is_idempotent_monotonic_and_matches_the_definitions(sequence):
    store = Store("sqlite://")
    store.upgrade()
    model = Model()
    now = BASE
    previous = None
    milestone = None
    try:
        for seen, later_hours, full in sequence:
            now = now + timedelta(hours=later_hours)
            store.record(seen, now, RULES, full=full)
            model.record(seen, now)

            # recording the same poll again changes nothing
            before = table_dump(store)
            again = store.record(seen, now, RULES, full=full)
            assert (again.users_added, again.users_updated, again.activity_rows) == (0, 0, 0)
            assert again.users_deleted == 0
            assert table_dump(store) == before

            store.record_milestones(threshold=3)  # as the service's refresh does
            agg = store.aggregates(now, threshold=3)
            assert agg.users_known == len(model.known)
            assert agg.users_logged_in == len(model.counted(model.logged_in))
            assert agg.users_started_server == len(model.counted(model.started))
            months = {m.month: (m.login, m.server) for m in agg.months}
            expected_months = {}
            for (basis, month), who in model.months.items():
                count = len(model.counted(who))
                if count:
                    login, server = expected_months.get(month_label(month), (0, 0))
                    expected_months[month_label(month)] = (
                        (count, server) if basis == "login" else (login, count)
                    )
            assert months == expected_months
            active_30d = {
                n
                for n, t in model.last_login.items()
                if RULES.is_counted(n, False) and t >= now - timedelta(days=30)
            }
            assert agg.rolling["30d"] == len(active_30d)

            # counts never go down; first value, once reached, stays where it was
            if previous is not None:
                assert agg.users_logged_in >= previous.users_logged_in
                assert agg.users_started_server >= previous.users_started_server
                old = {m.month: (m.login, m.server) for m in previous.months}
                for month, (login, server) in old.items():
                    assert months[month][0] >= login and months[month][1] >= server
            if milestone is not None:
                assert agg.milestones.get("login") == milestone
            milestone = agg.milestones.get("login")
            previous = agg

            if full:
                alive = {u.name for u in store.logged_in_users() if u.deleted_at is None}
                assert alive == model.counted(model.logged_in) & {u.name for u in seen}
    finally:
        store.close()


@pytest.mark.parametrize(
    "label",
    sorted(label for label in OPERATIONS if "events" in label and not label.endswith(".ics")),
)
@pytest.mark.parametrize(
    "mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
)
def test_events_api_fuzz_with_an_admins_token_never_fails_on_the_server(hostile, label, mode):
    """Whatever schemathesis sends to the events API as a hub admin: never a 5xx."""
    hub = hostile.hub
    hub.api("POST", "users/admin")
    token = hub.api("POST", "users/admin/tokens", json={"note": "fuzz"}).json()["token"]
    base_url = hub.url + "/services/onboarding"
    headers = {"Authorization": f"token {token}"}

    def check(case):
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        assert response.status_code < 500, response.text

    fuzz(OPERATIONS[label], mode, check)
