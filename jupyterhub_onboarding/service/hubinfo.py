"""Reads the hub's configuration for reports: ``GET /hub/api/`` and ``GET /hub/api/info``.

``/hub/api/info`` needs the ``read:hub`` scope. Without it the hub answers 403 and the
configuration holds the version only, with the reason; nothing else is affected.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..core.hubinfo import (
    HubConfiguration,
    InvalidHubInfo,
    parse_info,
    parse_version,
    profiles_seen,
)
from .hubclient import HubAPIError, HubClient

#: The scope ``GET /hub/api/info`` needs.
INFO_SCOPE = "read:hub"


async def read_hub_configuration(hub: HubClient, profiles: Iterable[str] = ()) -> HubConfiguration:
    """The hub's version, and what ``/hub/api/info`` tells when the service may read it.

    *profiles* are the profile labels of the usage figures, most used first (the hub's API
    does not list the profiles it offers). HubAPIError when the hub does not answer its
    version (it is down, or answers garbage).
    """
    body = await hub.get_json(hub.api_url)
    try:
        version = parse_version(body)
    except InvalidHubInfo as error:
        raise HubAPIError(str(error)) from None
    seen = profiles_seen(profiles)
    try:
        info = parse_info(await hub.get_json(hub.api_url + "info"))
    except HubAPIError as error:
        if error.code == 403:
            reason = f"the service's role lacks the {INFO_SCOPE} scope"
        else:
            reason = f"the hub did not answer ({error})"
        return HubConfiguration(version, None, reason, seen)
    except InvalidHubInfo as error:
        return HubConfiguration(version, None, f"the hub answered unexpectedly ({error})", seen)
    return HubConfiguration(version, info, None, seen)
