"""The page's templates: one Jinja environment, the hub layout's context, and the CSP.

The landing page extends the hub's own ``page.html`` so the nav bar, logo and Services menu
are the hub's. The loader searches, in order: configured ``template_paths`` (overrides), this
package's templates, the hub's templates, and last a standalone ``page.html`` used only when
the hub's templates are not installed next to the service.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader

from ..datafiles import find_data_files_path, template_environment

#: The standalone layout, below our templates directory, searched after the hub's templates.
STANDALONE_DIR = "standalone"

#: A template that extends ``page.html`` and adds nothing: its inline scripts are the layout's.
LAYOUT_PROBE = "onboarding-layout-probe.html"


def hub_templates_path() -> Path | None:
    """The hub's own templates directory, or None when JupyterHub's data files are absent.

    JupyterHub has no public API for where its data files are: its own application reads
    ``jupyterhub._data.DATA_FILES_PATH``, so this is the one place that does too.
    ``test_page_extends_the_hubs_own_layout`` fails if that module moves.
    """
    try:
        from jupyterhub._data import DATA_FILES_PATH
    except ImportError:
        return None
    if not DATA_FILES_PATH:
        return None
    path = Path(DATA_FILES_PATH, "templates")
    return path if (path / "page.html").is_file() else None


_DEFAULT = object()


def build_environment(
    template_paths: Iterable[str] = (),
    data_files_path: str | Path | None = None,
    hub_templates: Path | object | None = _DEFAULT,
) -> Environment:
    """The one Jinja environment of the service (autoescaped), built at start.

    *hub_templates* defaults to the installed hub's templates; pass None to leave them out
    (the standalone layout then serves ``page.html``).
    """
    data = Path(data_files_path) if data_files_path else find_data_files_path()
    ours = data / "templates"
    if hub_templates is _DEFAULT:
        hub_templates = hub_templates_path()
    loaders = [FileSystemLoader([str(path) for path in template_paths])]
    loaders.append(FileSystemLoader(str(ours)))
    if hub_templates is not None:
        loaders.append(FileSystemLoader(str(hub_templates)))
    loaders.append(FileSystemLoader(str(ours / STANDALONE_DIR)))
    return template_environment(ChoiceLoader(loaders))


def layout_source(env: Environment) -> str:
    """The file ``page.html`` resolves to (which layout the pages extend)."""
    template = env.get_template("page.html")
    return template.filename or ""


# The context the hub's page.html expects -----------------------------------------------------


@dataclass(frozen=True)
class HubUser:
    """The attributes of the hub's ``User`` that ``page.html`` reads, from a user model."""

    name: str
    admin: bool

    @property
    def json_escaped_name(self) -> str:
        """The name as the inside of a JavaScript string; ``<``, ``>`` and ``&`` as escapes,
        so no name can end the script element it is written into."""
        text = json.dumps(self.name)[1:-1]
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@dataclass(frozen=True)
class NavService:
    """An entry of the Services menu."""

    name: str
    href: str


def hub_page_namespace(
    user_model: Mapping[str, Any] | None,
    hub_prefix: str,
    services: Iterable[NavService] = (),
) -> dict[str, Any]:
    """Every variable the hub's ``page.html`` reads, for a page served by this service.

    *hub_prefix* is the hub's URL prefix (``/hub/`` on a hub at ``/``); static files, the
    logo, login and logout are the hub's, same-origin behind the proxy.
    """
    hub_prefix = "/" + hub_prefix.strip("/") + "/" if hub_prefix.strip("/") else "/"
    base = hub_prefix[: -len("hub/")] if hub_prefix.endswith("/hub/") else "/"
    user = None
    if user_model:
        user = HubUser(name=str(user_model.get("name", "")), admin=bool(user_model.get("admin")))

    def static_url(path: str, include_version: bool = True) -> str:
        return hub_prefix + "static/" + path.lstrip("/")

    return {
        "base_url": hub_prefix,
        "prefix": base,
        "user": user,
        "static_url": static_url,
        "version_hash": "",
        "login_url": hub_prefix + "login",
        "logout_url": hub_prefix + "logout",
        "logo_url": "",
        "services": list(services) if user else [],
        "parsed_scopes": {"admin-ui"} if user and user.admin else set(),
        "expanded_scopes": set(),
        "admin_access": bool(user and user.admin),
        "no_spawner_check": True,
        "announcement": "",
        # No forms post to the hub from these pages: no token is written into them.
        "xsrf": "",
        "xsrf_token": "",
    }


# Content-Security-Policy ---------------------------------------------------------------------

_INLINE_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)


def inline_script_hashes(html: str) -> list[str]:
    """CSP ``'sha256-…'`` sources for each inline script element (no ``src``) in *html*."""
    hashes = []
    for attributes, body in _INLINE_SCRIPT.findall(html):
        if re.search(r"\bsrc\s*=", attributes, re.IGNORECASE):
            continue
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        source = f"'sha256-{digest}'"
        if source not in hashes:
            hashes.append(source)
    return hashes


def content_security_policy(nonce: str, script_hashes: Iterable[str] = ()) -> str:
    """The policy of every page: same-origin only, inline code only with the nonce or a hash."""
    scripts = " ".join(["'self'", f"'nonce-{nonce}'", *script_hashes])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            f"style-src 'self' 'nonce-{nonce}'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )


def render_page(
    env: Environment, name: str, namespace: Mapping[str, Any], nonce: str
) -> tuple[str, str]:
    """Render template *name*; return the HTML and the Content-Security-Policy it needs.

    The layout's own inline scripts (the hub's ``page.html`` writes one) are allowed by hash,
    computed from the layout rendered alone with the same variables, so nothing from the page
    body is ever allowed by hash; the page's own scripts carry *nonce*.
    """
    ns = dict(namespace, csp_nonce=nonce)
    html = env.get_template(name).render(ns)
    layout_html = env.get_template(LAYOUT_PROBE).render(ns)
    return html, content_security_policy(nonce, inline_script_hashes(layout_html))
