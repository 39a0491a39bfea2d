"""The collector's hubs file: which hubs to poll, and where each one's token comes from.

Tokens are read from an environment variable or a file, never from the hubs file itself,
and no error message ever contains one.
"""

from __future__ import annotations

import ipaddress
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

#: Path of the status API below the hub URL, for a service named ``{service}``.
STATUS_PATH = "services/{service}/api/v1/status"

#: Keys a hub entry may have.
HUB_KEYS = frozenset(
    {
        "name",
        "hub_url",
        "status_url",
        "service_name",
        "token_env",
        "token_file",
        "verify_tls",
        "ca_file",
        "community",
    }
)


class HubsFileError(ValueError):
    """The hubs file cannot be used; the message says where and why (never a token)."""


class TokenError(ValueError):
    """A hub's token cannot be read; the message names the variable or file, not the token."""


@dataclass(frozen=True)
class HubEntry:
    """One hub from the hubs file."""

    name: str
    #: The status API endpoint polled.
    status_url: str
    #: The hub's URL as shown in the report.
    url: str
    token_env: str | None = None
    token_file: Path | None = None
    verify_tls: bool = True
    ca_file: Path | None = None
    #: The customer the hub belongs to: hubs of one community are billed as one.
    community: str | None = None


# --- the hubs file --------------------------------------------------------------------------


def _http_url(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise HubsFileError(f"{where}: {key} must be a URL")
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HubsFileError(f"{where}: {key} must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise HubsFileError(f"{where}: {key} must not carry credentials; use token_env")
    return value


def _hub_url_of(status_url: str, service_name: str) -> str:
    """The hub URL behind a status URL, when it has the standard path; else the status URL."""
    suffix = "/" + STATUS_PATH.format(service=service_name)
    return status_url[: -len(suffix)] if status_url.endswith(suffix) else status_url


def parse_hub(entry: Any, index: int, base_dir: Path, service_name: str) -> HubEntry:
    """One hub entry of the hubs file, checked."""
    if not isinstance(entry, Mapping):
        raise HubsFileError(f"hub #{index + 1}: each hub must be a mapping with a name")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise HubsFileError(f"hub #{index + 1}: 'name' is required (a non-empty string)")
    name = name.strip()
    where = f"hub {name!r}"
    if "token" in entry:
        raise HubsFileError(
            f"{where}: an inline 'token' is refused, since the hubs file gets copied and "
            "shared; use 'token_env: VARIABLE' or 'token_file: path' instead"
        )
    unknown = sorted(str(key) for key in entry if key not in HUB_KEYS)
    if unknown:
        raise HubsFileError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(HUB_KEYS))}"
        )
    service = entry.get("service_name", service_name)
    if not isinstance(service, str) or not service.strip() or "/" in service:
        raise HubsFileError(f"{where}: service_name must be a service name such as 'onboarding'")
    if ("hub_url" in entry) == ("status_url" in entry):
        raise HubsFileError(f"{where}: give exactly one of 'hub_url' and 'status_url'")
    if "hub_url" in entry:
        url = _http_url(entry["hub_url"], where, "hub_url").rstrip("/")
        status_url = f"{url}/{STATUS_PATH.format(service=service.strip())}"
    else:
        status_url = _http_url(entry["status_url"], where, "status_url")
        url = _hub_url_of(status_url, service.strip())

    has_env, has_file = "token_env" in entry, "token_file" in entry
    if has_env == has_file:
        raise HubsFileError(f"{where}: give exactly one of 'token_env' and 'token_file'")
    token_env = token_file = None
    if has_env:
        token_env = entry["token_env"]
        if not isinstance(token_env, str) or not token_env.strip():
            raise HubsFileError(f"{where}: token_env must name an environment variable")
        token_env = token_env.strip()
    else:
        if not isinstance(entry["token_file"], str) or not entry["token_file"].strip():
            raise HubsFileError(f"{where}: token_file must be a path")
        token_file = base_dir / Path(entry["token_file"].strip()).expanduser()

    verify_tls = entry.get("verify_tls", True)
    if not isinstance(verify_tls, bool):
        raise HubsFileError(f"{where}: verify_tls must be true or false")
    ca_file = None
    if "ca_file" in entry:
        if not isinstance(entry["ca_file"], str) or not entry["ca_file"].strip():
            raise HubsFileError(f"{where}: ca_file must be a path")
        ca_file = base_dir / Path(entry["ca_file"].strip()).expanduser()
        if not ca_file.is_file():
            raise HubsFileError(f"{where}: ca_file {str(ca_file)!r} does not exist")
    community = entry.get("community")
    if community is not None and (not isinstance(community, str) or not community.strip()):
        raise HubsFileError(f"{where}: community must be a name (a non-empty string)")
    return HubEntry(
        name=name,
        status_url=status_url,
        url=url,
        token_env=token_env,
        token_file=token_file,
        verify_tls=verify_tls,
        ca_file=ca_file,
        community=community.strip() if community else None,
    )


def parse_hubs(data: Any, base_dir: Path, service_name: str = "onboarding") -> list[HubEntry]:
    """The hubs of a parsed hubs file: a list of hubs, or a mapping with a ``hubs`` list."""
    if isinstance(data, Mapping):
        extra = sorted(str(key) for key in data if key != "hubs")
        if extra:
            raise HubsFileError(f"unknown top-level key(s) {', '.join(extra)}; expected 'hubs'")
        data = data.get("hubs")
    if not isinstance(data, list) or not data:
        raise HubsFileError("expected a non-empty list of hubs (or 'hubs:' with such a list)")
    hubs = [parse_hub(entry, index, base_dir, service_name) for index, entry in enumerate(data)]
    seen: set[str] = set()
    for hub in hubs:
        if hub.name in seen:
            raise HubsFileError(f"hub {hub.name!r} appears twice; names must be unique")
        seen.add(hub.name)
    return hubs


def load_hubs(path: Path, service_name: str = "onboarding") -> list[HubEntry]:
    """Read and check the hubs file at *path*. Raises HubsFileError with file and position."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise HubsFileError(f"{path}: cannot read the hubs file ({reason})") from None
    import yaml  # the collector extra: CollectApp checks that it is installed first

    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        # Only the problem and its position: the context snippet could quote a secret.
        mark = error.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise HubsFileError(f"{where}: not valid YAML ({error.problem})") from None
    except yaml.YAMLError:
        raise HubsFileError(f"{path}: not valid YAML") from None
    try:
        return parse_hubs(data, path.parent, service_name)
    except HubsFileError as error:
        raise HubsFileError(f"{path}: {error}") from None


def read_token(hub: HubEntry, environ: Mapping[str, str]) -> str:
    """The API token of *hub*, from its environment variable or file."""
    if hub.token_env is not None:
        token = environ.get(hub.token_env, "").strip()
        if not token:
            raise TokenError(f"token variable {hub.token_env} is not set")
        return token
    assert hub.token_file is not None
    try:
        token = hub.token_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        raise TokenError(f"cannot read token file {hub.token_file}") from None
    if not token or any(ch.isspace() for ch in token):
        raise TokenError(f"token file {hub.token_file} does not hold one token")
    return token


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def hubs_warnings(hubs: Iterable[HubEntry]) -> list[str]:
    """Risky but allowed settings worth a warning (plain http, readable token files)."""
    warnings = []
    for hub in hubs:
        parts = urlsplit(hub.status_url)
        if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
            warnings.append(f"hub {hub.name!r}: plain http, its token travels unencrypted")
        if parts.scheme == "https" and not hub.verify_tls:
            warnings.append(f"hub {hub.name!r}: TLS verification is off (verify_tls: false)")
        if hub.token_file is not None and hub.token_file.exists():
            mode = hub.token_file.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                warnings.append(
                    f"hub {hub.name!r}: token file {hub.token_file} is readable by others "
                    "(chmod 600 it)"
                )
    return warnings
