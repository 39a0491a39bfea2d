"""A loopback stand-in for a hub's users API, for populations too large to create in a real hub.

Serves ``GET /hub/api/users`` in the hub's pagination format (``Accept:
application/jupyterhub-pagination+json``), with ``limit``/``offset`` capped at the hub's
default ``api_page_max_limit`` of 200, ``sort`` by id or ``-last_activity`` (NULLs last) and
``state=active`` (the users with a running server: ``--running N`` gives the first N users a
running default server, started an hour before the stub; a fifth of them report new server
activity at each request, as proxy activity arrives every 5 minutes against polls every
minute). User models carry the same keys a JupyterHub 6 listing does. Users are
``bench-NNNNNN`` with the same deterministic old activity as the real-hub benchmarks.

For a service's logins, ``GET /hub/api/user`` answers as the hub does for a token in the
``Authorization: token X`` header (what ``jupyterhub.services.auth.HubAuth`` asks): with
``--admin-token`` the model of the admin ``bench-admin`` (``kind: user``, ``admin: true``,
scopes including ``access:services!service=onboarding`` and ``read:users``, as an admin's
unrestricted token), with ``--status-token`` the service ``status-reader`` holding only
``access:services!service=onboarding``; any other token: 403, as the hub answers (the
library reads it as nobody). ``--service-name`` names the service in those scopes.

``GET /stub/stats`` (no authentication) counts what was asked: listing requests, login checks,
and the full reads (a ``sort=id`` listing without ``state``: what a service's full sync
reads) begun (the request for offset 0) and completed (the last page served), with the wall
clock times (``time.time()``) of each, so that a benchmark can tell when a full sync ran.

Run: ``python benchmarks/hubstub.py --users 100000 --port 8123``; prints ``ready`` when listening.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from tornado import web

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import old_activity, user_name, utcnow


def iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


class UsersHandler(web.RequestHandler):
    def initialize(self, hub: StubHub) -> None:
        self.hub = hub

    def get(self) -> None:
        hub = self.hub
        self.hub.requests += 1
        limit = min(int(self.get_argument("limit", "200")), hub.max_limit)
        offset = int(self.get_argument("offset", "0"))
        sort = self.get_argument("sort", "id")
        state = self.get_argument("state", None)
        full_read = sort == "id" and state is None
        if full_read and offset == 0:
            hub.full_reads_started.append(time.time())
        order = hub.by_activity if sort == "-last_activity" else range(hub.users)
        if state == "active":
            order = range(hub.running)
        total = len(order)
        chosen = order[offset : offset + limit]
        items = [hub.model(i) for i in chosen]
        pagination = {"offset": offset, "limit": limit, "total": total, "next": None}
        if offset + limit < total:
            query = {k: v[-1].decode() for k, v in self.request.query_arguments.items()}
            query.update(offset=str(offset + limit), limit=str(limit))
            pagination["next"] = {
                "offset": offset + limit,
                "limit": limit,
                "url": f"{self.request.protocol}://{self.request.host}/hub/api/users?"
                + urlencode(query),
            }
        self.set_header("Content-Type", "application/json")
        if "jupyterhub-pagination+json" in self.request.headers.get("Accept", ""):
            self.finish(json.dumps({"items": items, "_pagination": pagination}))
        else:
            self.finish(json.dumps(items))
        if full_read and offset + limit >= total:
            hub.full_reads_completed.append(time.time())


class CurrentUserHandler(web.RequestHandler):
    """``GET /hub/api/user``: who holds the token, as the hub tells a service's HubAuth."""

    def initialize(self, hub: StubHub) -> None:
        self.hub = hub

    def get(self) -> None:
        self.hub.user_requests += 1
        header = self.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        model = self.hub.identities.get(token.strip()) if scheme.lower() == "token" else None
        self.set_header("Content-Type", "application/json")
        if model is None:
            self.set_status(403)
            self.finish(json.dumps({"status": 403, "message": "Forbidden"}))
            return
        self.finish(json.dumps(model))


class StatsHandler(web.RequestHandler):
    """``GET /stub/stats``: what the stand-in was asked, for the benchmark."""

    def initialize(self, hub: StubHub) -> None:
        self.hub = hub

    def get(self) -> None:
        hub = self.hub
        self.set_header("Content-Type", "application/json")
        self.finish(
            json.dumps(
                {
                    "requests": hub.requests,
                    "user_requests": hub.user_requests,
                    "full_reads_started": hub.full_reads_started,
                    "full_reads_completed": hub.full_reads_completed,
                }
            )
        )


class RootHandler(web.RequestHandler):
    def get(self) -> None:
        self.finish({"version": "6.1.1"})


class StubHub:
    def __init__(self, users: int, max_limit: int = 200, running: int = 0) -> None:
        self.users = users
        self.running = min(running, users)
        self.max_limit = max_limit
        self.requests = 0
        self.now = utcnow()
        self.created = iso(self.now)
        self.activity = [iso(old_activity(i, self.now)) for i in range(users)]
        # ISO strings of one format sort as times do
        self.by_activity = sorted(range(users), key=lambda i: self.activity[i], reverse=True)
        self.started = iso(self.now - timedelta(hours=1))
        self.server_activity = [self.started] * self.running
        self.user_requests = 0
        self.full_reads_started: list[float] = []
        self.full_reads_completed: list[float] = []
        #: token -> the model ``GET /hub/api/user`` answers with (see ``identify``)
        self.identities: dict[str, dict] = {}

    def identify(self, admin_token: str, status_token: str, service: str) -> None:
        """The tokens ``GET /hub/api/user`` knows: an admin's and a status reader's."""
        access = f"access:services!service={service}"
        if admin_token:
            self.identities[admin_token] = {
                "kind": "user",
                "name": "bench-admin",
                "admin": True,
                "groups": [],
                "roles": ["admin", "user"],
                # an admin's unrestricted token: the pages need read:users beside the access
                "scopes": [
                    access,
                    "access:services",
                    "admin-ui",
                    "admin:users",
                    "admin:servers",
                    "list:users",
                    "read:users",
                    "read:servers",
                    "read:users:activity",
                    "users",
                ],
                "server": None,
                "pending": None,
                "last_activity": iso(self.now),
                "created": self.created,
                "session_id": None,
                "token_id": "a1",
            }
        if status_token:
            self.identities[status_token] = {
                "kind": "service",
                "name": "status-reader",
                "admin": False,
                "roles": ["status-reader"],
                "scopes": [access],
                "session_id": None,
                "token_id": "a2",
            }

    def server(self, index: int) -> dict:
        if index % 5 == self.requests % 5:
            self.server_activity[index] = iso(utcnow())
        return {
            "": {
                "name": "",
                "full_name": f"{user_name(index)}/",
                "last_activity": self.server_activity[index],
                "started": self.started,
                "pending": None,
                "ready": True,
                "stopped": False,
                "url": f"/user/{user_name(index)}/",
                "user_options": {"profile": f"profile-{index % 3}"},
                "progress_url": f"/hub/api/users/{user_name(index)}/server/progress",
            }
        }

    def model(self, index: int) -> dict:
        return {
            "groups": [],
            "name": user_name(index),
            "last_activity": self.activity[index],
            "auth_state": None,
            "server": None,
            "roles": ["user"],
            "created": self.created,
            "pending": None,
            "admin": False,
            "kind": "user",
            "servers": self.server(index) if index < self.running else {},
            "user_info": None,
        }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-limit", type=int, default=200)
    parser.add_argument("--running", type=int, default=0, help="users with a running server")
    parser.add_argument("--admin-token", default="", help="GET /hub/api/user: an admin")
    parser.add_argument("--status-token", default="", help="GET /hub/api/user: a status reader")
    parser.add_argument("--service-name", default="onboarding", help="the service in the scopes")
    args = parser.parse_args()
    hub = StubHub(args.users, args.max_limit, args.running)
    hub.identify(args.admin_token, args.status_token, args.service_name)
    app = web.Application(
        [
            (r"/hub/api/users", UsersHandler, {"hub": hub}),
            (r"/hub/api/user", CurrentUserHandler, {"hub": hub}),
            (r"/stub/stats", StatsHandler, {"hub": hub}),
            (r"/hub/api/?", RootHandler),
        ]
    )
    app.listen(args.port, "127.0.0.1")
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
