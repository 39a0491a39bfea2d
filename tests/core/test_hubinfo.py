"""The hub's configuration from /hub/api/ and /hub/api/info, and the profiles seen."""

import pytest

from jupyterhub_onboarding.core.hubinfo import (
    ClassInfo,
    HubInfo,
    InvalidHubInfo,
    parse_info,
    parse_version,
    profiles_seen,
)

INFO = {
    "version": "6.1.1",
    "python": "3.11.2 (main, Mar 13 2023, 12:18:29) [GCC 12.2.0]",
    "sys_executable": "/srv/conda/bin/python",
    "spawner": {"class": "kubespawner.spawner.KubeSpawner", "version": "7.1.0"},
    "authenticator": {"class": "oauthenticator.github.GitHubOAuthenticator", "version": "unknown"},
}


def test_the_version():
    assert parse_version({"version": "6.1.1"}) == "6.1.1"
    for body in ({}, {"version": 6}, [], {"version": " "}):
        with pytest.raises(InvalidHubInfo):
            parse_version(body)


def test_the_info_without_the_executables_path():
    info = parse_info(INFO)
    assert info == HubInfo(
        python="3.11.2",
        authenticator=ClassInfo("oauthenticator.github.GitHubOAuthenticator", None),
        spawner=ClassInfo("kubespawner.spawner.KubeSpawner", "7.1.0"),
    )
    assert info.spawner is not None and info.spawner.short_name == "KubeSpawner"
    assert "/srv/conda" not in repr(info)


@pytest.mark.parametrize(
    "body",
    [
        [],
        {**INFO, "spawner": "KubeSpawner"},
        {**INFO, "spawner": {"class": "<script>alert(1)</script>"}},
        {**INFO, "authenticator": {"class": 5}},
    ],
)
def test_info_of_another_shape_is_refused(body):
    with pytest.raises(InvalidHubInfo):
        parse_info(body)


def test_hostile_versions_are_cut_to_one_short_line():
    info = parse_info({**INFO, "spawner": {"class": "a.B", "version": "1\n" + "9" * 100}})
    assert info.spawner is not None and info.spawner.version is not None
    assert "\n" not in info.spawner.version and len(info.spawner.version) <= 64


def test_profiles_seen_leave_out_none_and_other():
    assert profiles_seen(["gpu", "none", "small", "other"]) == ("gpu", "small")
