"""Record the status document a running demo hub serves (see README.md here).

Start the demo of the checkout to record (``make demo``, or with
``ONBOARDING_DEMO_PORT``), wait until its users have logged in and some servers have
stopped, then run this with the demo's address: it logs in as the demo's admin, makes a
token, plans one event through the events API and prints ``api/v1/status`` as served.

``python tests/data/record_status.py http://127.0.0.1:8000 > tests/data/status-COMMIT.json``
"""

import http.cookiejar
import json
import sys
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

hub = sys.argv[1].rstrip("/")
if urllib.parse.urlsplit(hub).scheme not in ("http", "https"):
    sys.exit(f"not an http(s) address: {hub}")
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def xsrf() -> str:
    return next(cookie.value for cookie in jar if cookie.name == "_xsrf")


opener.open(f"{hub}/hub/login", timeout=30).read()
form = {"username": "admin", "password": "demo", "_xsrf": xsrf()}
opener.open(f"{hub}/hub/login", data=urllib.parse.urlencode(form).encode(), timeout=30).read()
request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
    f"{hub}/hub/api/users/admin/tokens",
    method="POST",
    data=json.dumps({"note": "record the status document"}).encode(),
    headers={"X-XSRFToken": xsrf(), "Content-Type": "application/json"},
)
token = json.loads(opener.open(request, timeout=30).read())["token"]


def service(method: str, path: str, body: object = None) -> bytes:
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        f"{hub}/services/onboarding/{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    return opener.open(request, timeout=30).read()


start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
event = {
    "title": "Midterm exam: Data 8",
    "kind": "exam",
    "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "end": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "expected_attendees": 40,
    "profile": "small",
    "time_zone": "Europe/Berlin",
    "checklist": {"resources": True, "image": True},
}
service("POST", "api/v1/events", event)
print(json.dumps(json.loads(service("GET", "api/v1/status")), indent=1, sort_keys=True))
