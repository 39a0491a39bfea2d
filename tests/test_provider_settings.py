"""The provider's name and logo (#19): one setting of the service and the collector, checked
when set, naming the trait; the report gets the logo read from its file."""

from __future__ import annotations

import pytest
from traitlets import TraitError

from jupyterhub_onboarding.app import Onboarding
from jupyterhub_onboarding.collector.app import CollectApp

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'


@pytest.mark.parametrize("app_class", [Onboarding, CollectApp])
def test_a_good_logo_and_name_reach_the_report(tmp_path, app_class):
    (tmp_path / "logo.svg").write_bytes(SVG)
    app = app_class(provider_name="  Acme Hosting ", provider_logo=str(tmp_path / "logo.svg"))
    branding = app.report_branding("Example Lab")
    assert (branding.community_name, branding.provider_name) == ("Example Lab", "Acme Hosting")
    assert branding.provider_logo == ("svg", SVG)


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("logo.gif", PNG, "must be a .png, .jpg or .svg file"),
        ("missing.png", None, "cannot be read"),
        ("logo.png", b"<html>not an image</html>", "is not a PNG image"),
        ("logo.jpg", PNG, "is not a JPG image"),
        ("big.png", PNG + b"\0" * 600_000, "must be at most 524,288 bytes"),
    ],
)
@pytest.mark.parametrize("app_class", [Onboarding, CollectApp])
def test_a_bad_logo_is_refused_naming_the_trait(tmp_path, app_class, name, body, message):
    path = tmp_path / name
    if body is not None:
        path.write_bytes(body)
    with pytest.raises(TraitError, match=rf"{app_class.__name__}\.provider_logo {message}"):
        app_class(provider_logo=str(path))


def test_the_provider_name_is_one_short_line():
    with pytest.raises(TraitError, match=r"Onboarding\.provider_name must be one line"):
        Onboarding(provider_name="Acme\nBcc: someone@example.org")
    assert Onboarding().provider_name == "2i2c"


def test_a_logo_that_became_unreadable_is_left_out(tmp_path):
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    app = Onboarding(provider_logo=str(logo))
    logo.unlink()
    assert app.report_branding().provider_logo is None
