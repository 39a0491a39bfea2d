"""One MAU per community across real hubs (#21): three real hubs behind real proxies with
real logins and a real single-user server. Hubs A and B share a pseudonym key and three
usernames; hub C has no key. The collector counts A and B's people once and applies the fee
to the total, sums C and says so, and writes no username or pseudonym anywhere; the billing
endpoint refuses a token without access; the CSV behind hub A's MAU lists exactly its users."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from harness.collector import run_cli, write_hubs

from jupyterhub_onboarding.core import fees
from jupyterhub_onboarding.core.billing import pseudonym

pytestmark = pytest.mark.integration

KEY = "community-key-0123456789abcdef"
SHARED = ("shared-ana", "shared-ben", "shared-cy")
ONLY_A, ONLY_B, ONLY_C = "only-a-dan", "only-b-eve", "only-c-fay"
NAMES = (*SHARED, ONLY_A, ONLY_B, ONLY_C)
#: The hubs' admin is not counted, so that the test's own admin requests move no figure.
SERVICE = "c.Onboarding.excluded_users = ['admin']\n"


@pytest.fixture(scope="module")
def three_hubs(tmp_path_factory):
    from harness.hub import HubProcess

    keyed = SERVICE + f"c.Onboarding.billing_pseudonym_key = {KEY!r}\n"
    hubs = [
        HubProcess(tmp_path_factory.mktemp("hub-a"), service_config=keyed),
        HubProcess(tmp_path_factory.mktemp("hub-b"), service_config=keyed),
        HubProcess(tmp_path_factory.mktemp("hub-c"), service_config=SERVICE),
    ]
    with ThreadPoolExecutor(len(hubs)) as pool:
        errors = [f.exception() for f in [pool.submit(hub.start) for hub in hubs]]
    try:
        if any(errors):
            raise RuntimeError(f"a hub did not start: {[e for e in errors if e]}")
        yield hubs
    finally:
        for hub in hubs:
            hub.stop()


def admin_token(hub) -> str:
    hub.api("POST", "users/admin")
    response = hub.api("POST", "users/admin/tokens", json={"note": "billing test"})
    assert response.status_code == 201, response.text
    return response.json()["token"]


def user_token(hub, name: str) -> str:
    response = hub.api("POST", f"users/{name}/tokens", json={"note": "no access"})
    assert response.status_code == 201, response.text
    return response.json()["token"]


def log_in_everyone(hub_a, hub_b, hub_c) -> dict:
    for name in (*SHARED, ONLY_A):
        hub_a.login(name).close()
    for name in (*SHARED, ONLY_B):
        hub_b.login(name).close()
    hub_c.login(ONLY_C).close()
    hub_a.start_server(SHARED[0])
    return {
        "a": hub_a.wait_for_status(lambda s: (s["mau"]["login"], s["mau"]["server"]) == (4, 1), 90),
        "b": hub_b.wait_for_status(lambda s: s["mau"]["login"] == 4, 90),
        "c": hub_c.wait_for_status(lambda s: s["mau"]["login"] == 1, 90),
    }


async def test_a_community_is_counted_once_across_its_hubs_without_names(tmp_path, three_hubs):
    hub_a, hub_b, hub_c = three_hubs
    statuses = await asyncio.to_thread(log_in_everyone, hub_a, hub_b, hub_c)
    month = statuses["a"]["mau"]["month"]

    # the billing endpoint: counts and pseudonyms to the collector's token, never names
    billing = f"{hub_a.service_url}api/v1/billing/{month}"
    answer = httpx.get(billing, headers={"Authorization": f"token {hub_a.status_token}"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["mau_login"], body["mau_server"], body["closed"]) == (4, 1, False)
    assert set(body["pseudonyms"]["login"]) == {pseudonym(KEY, n) for n in (*SHARED, ONLY_A)}
    assert body["pseudonyms"]["server"] == [pseudonym(KEY, SHARED[0])]
    assert not any(name in answer.text for name in NAMES)
    eve = await asyncio.to_thread(user_token, hub_b, ONLY_B)
    refused = httpx.get(
        billing.replace(hub_a.url, hub_b.url), headers={"Authorization": f"token {eve}"}
    )
    assert refused.status_code == 403, refused.text
    assert httpx.get(billing).status_code == 401
    no_key = httpx.get(
        f"{hub_c.service_url}api/v1/billing/{month}",
        headers={"Authorization": f"token {hub_c.status_token}"},
    )
    assert no_key.status_code == 404 and "billing_pseudonym_key" in no_key.json()["message"]

    hubs_file = write_hubs(
        tmp_path / "hubs.yaml",
        [
            {"name": "hub-a", "hub_url": hub_a.url, "token_env": "TA", "community": "acme"},
            {"name": "hub-b", "hub_url": hub_b.url, "token_env": "TB", "community": "acme"},
            {"name": "hub-c", "hub_url": hub_c.url, "token_env": "TC", "community": "solo"},
        ],
    )
    env = {"TA": hub_a.status_token, "TB": hub_b.status_token, "TC": hub_c.status_token}
    store = tmp_path / "history.sqlite"
    args = ("--hubs", str(hubs_file), "--store", str(store), "--log-level", "DEBUG")
    runs = {fmt: await run_cli(*args, "--format", fmt, cwd=tmp_path, env=env)
            for fmt in ("json", "table", "csv", "html")}  # fmt: skip
    for fmt, run in runs.items():
        assert run.returncode == 0, (fmt, run.stderr)

    document = json.loads(runs["json"].stdout)
    acme, solo = document["communities"]
    assert {k: acme[k] for k in ("community", "month", "mau_login", "mau_server")} == {
        "community": "acme",
        "month": month,
        "mau_login": 5,  # 3 shared + one only on A + one only on B, not 8
        "mau_server": 1,
    }
    assert acme["deduplicated"] is True
    assert acme["estimated_usage_fee"] == fees.usage_fee(5) == 50.0
    assert [(h["hub"], h["mau_login"], h["estimated_usage_fee"]) for h in acme["hubs"]] == [
        ("hub-a", 4, 40.0),
        ("hub-b", 4, 40.0),
    ]
    assert (solo["mau_login"], solo["deduplicated"]) == (1, False)
    assert "hub hub-c: it serves no pseudonyms" in solo["note"]
    assert "community 'solo': summed, not de-duplicated" in runs["json"].stderr
    assert "acme 20" in runs["table"].stdout and "(keyed pseudonyms)" in runs["table"].stdout
    assert "summed, not de-duplicated: hub hub-c" in runs["table"].stdout
    rows = {row["hub"]: row for row in csv.DictReader(io.StringIO(runs["csv"].stdout))}
    assert (rows["hub-a"]["community"], rows["hub-a"]["community_mau_login"]) == ("acme", "5")
    assert rows["hub-b"]["community_deduplicated"] == "true"
    assert rows["hub-c"]["community_deduplicated"] == "false"
    assert 'id="communities-table"' in runs["html"].stdout

    written = [run.stdout + run.stderr for run in runs.values()] + [
        store.read_bytes().decode("latin-1")
    ]
    secrets = [*NAMES, *(pseudonym(KEY, name) for name in NAMES)]
    for text in written:
        assert not [secret for secret in secrets if secret in text]


def test_the_csv_of_a_month_lists_exactly_the_users_behind_its_mau(three_hubs):
    hub_a, hub_b, _ = three_hubs
    status = hub_a.wait_for_status(lambda s: (s["mau"]["login"], s["mau"]["server"]) == (4, 1), 90)
    month = status["mau"]["month"]
    token = admin_token(hub_a)
    answer = httpx.get(
        f"{hub_a.service_url}billing/{month}.csv",
        headers={"Authorization": f"token {token}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    *lines, total = list(csv.DictReader(io.StringIO(answer.text)))
    assert {line["name"] for line in lines} == {*SHARED, ONLY_A}
    assert {line["name"] for line in lines if line["active_server"] == "yes"} == {SHARED[0]}
    assert all(line["active_login"] == "yes" for line in lines)
    assert all(line["first_active_day"][:7] == month for line in lines)
    assert total["name"] == f"total ({month}, to date)"
    assert (int(total["active_login"]), int(total["active_server"])) == (
        status["mau"]["login"],
        status["mau"]["server"],
    )
    # not for a user without admin rights
    eve = user_token(hub_b, ONLY_B)
    refused = httpx.get(
        f"{hub_b.service_url}billing/{month}.csv", headers={"Authorization": f"token {eve}"}
    )
    assert refused.status_code == 403
