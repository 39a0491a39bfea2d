"""The ``storage`` sub-page: each home directory with its owner and size (admins only),
the total, the distribution and the largest; the figures stay, with their time, while
Prometheus does not answer, and the page says so (#22)."""

from __future__ import annotations

import re
from typing import Any

from tornado import web

from ..core.checkin import storage_data
from ..core.storage import LARGEST_COUNT, DirectorySize
from .handlers import PageHandler, handler_kwargs

#: How the storage page's table can be ordered: the query's ``sort`` -> the row's key.
STORAGE_SORTS = {
    "size": lambda entry: (entry.size_bytes, entry.directory),
    "directory": lambda entry: (entry.directory, entry.size_bytes),
    "user": lambda entry: (entry.username or "", entry.directory),
}


def storage_rows(
    sizes: tuple[DirectorySize, ...], sort: str, descending: bool
) -> list[DirectorySize]:
    """Every measured directory in the order asked for (unknown orders: largest first)."""
    key = STORAGE_SORTS.get(sort, STORAGE_SORTS["size"])
    return sorted(sizes, key=key, reverse=descending)


class StorageHandler(PageHandler):
    """``storage``: the home directories' total, distribution, largest, and each directory
    with its owner and size, sortable (admins only: it names users)."""

    @web.authenticated
    async def get(self) -> None:
        self.require_admin()
        service = self.service
        sort = self.get_argument("sort", "size")
        if sort not in STORAGE_SORTS:
            raise web.HTTPError(400, f"sort must be one of {', '.join(STORAGE_SORTS)}")
        order = self.get_argument("order", "desc" if sort == "size" else "asc")
        if order not in ("asc", "desc"):
            raise web.HTTPError(400, "order must be asc or desc")
        state = service.storage.state if service.storage is not None else None
        figures = state.figures if state is not None else None
        sizes = figures.sizes if figures is not None else ()
        await self.render_html(
            "onboarding-storage.html",
            page_title="Home directory storage",
            landing_url=self.prefix,
            storage_url=self.prefix + "storage",
            configured=service.storage is not None,
            storage=storage_data(service.status_storage()),
            checked_at=state.checked_at if state is not None else None,
            largest=figures.largest(LARGEST_COUNT) if figures is not None else (),
            rows=storage_rows(sizes, sort, order == "desc"),
            sort=sort,
            order=order,
            sorts=tuple(STORAGE_SORTS),
        )


def routes(service: Any) -> list:
    """The check-in sub-pages under the service prefix."""
    app = service.app
    kwargs = handler_kwargs(service)
    prefix = re.escape(app.service_prefix)
    return [web.url(prefix + "storage", StorageHandler, kwargs, name="onboarding-storage")]
