"""Home directory names made from usernames, checked against KubeSpawner's own functions."""

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from kubespawner.slugs import escape_slug as kubespawner_escape_slug
from kubespawner.slugs import safe_slug as kubespawner_safe_slug

from jupyterhub_onboarding.core.homedirs import (
    SLUG_MAX_LENGTH,
    DirectoryNaming,
    check_pattern,
    directory_name,
    escape_slug,
    safe_slug,
)

#: Usernames as authenticators make them: emails, mixed case, unicode, hyphens, long ones.
usernames = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"[a-z][a-z0-9-]{0,60}", fullmatch=True),
    st.emails(),
)


@given(usernames)
@example("alice")
@example("Alice")
@example("user@example.org")
@example("a--b")
@example("x" * 49)
@example("1abc")
@example("ünï")
@example("")
def test_safe_slug_is_kubespawners(name):
    assert safe_slug(name) == kubespawner_safe_slug(name, max_length=SLUG_MAX_LENGTH)


@given(usernames)
@example("user@example.org")
@example("\n")
@example("Ä")
def test_escape_slug_is_kubespawners(name):
    assert escape_slug(name) == kubespawner_escape_slug(name)


def test_the_schemes_on_examples_from_kubespawners_docs():
    assert directory_name("user@example.org", "username") == "user@example.org"
    assert directory_name("user@example.org", "escape") == "user-40example-2eorg"
    assert directory_name("user@example.org", "safe") == "user-example-org---d159ef62"
    # a username that is already a valid name is kept by the safe scheme
    assert directory_name("ada-lovelace", "safe") == "ada-lovelace"
    with pytest.raises(ValueError, match="unknown home directory naming scheme"):
        directory_name("ada", "slug")


def test_owners_map_directory_names_back_to_usernames():
    naming = DirectoryNaming("safe")
    owners = naming.owners(["ada", "Grace@Example.org"])
    assert owners == {"ada": "ada", safe_slug("Grace@Example.org"): "Grace@Example.org"}


def test_a_pattern_picks_the_username_part_and_leaves_other_directories_out():
    naming = DirectoryNaming("username", check_pattern(r"home-(?P<username>.+)"))
    assert naming.key("home-ada") == "ada"
    assert naming.key("_shared") is None
    assert naming.key("home-") is None
    shared_out = DirectoryNaming("username", check_pattern(r"(?!_)(?P<username>.+)"))
    assert shared_out.key("_shared") is None
    assert shared_out.key("ada") == "ada"


def test_bad_patterns_say_what_is_wrong():
    assert check_pattern("") is None
    with pytest.raises(ValueError, match="not a valid regular expression"):
        check_pattern("(")
    with pytest.raises(ValueError, match="group named 'username'"):
        check_pattern("home-(.+)")
    with pytest.raises(ValueError, match="scheme must be one of"):
        DirectoryNaming("slug")
    with pytest.raises(ValueError, match="group named 'username'"):
        DirectoryNaming("username", re.compile("x"))
