"""The configuration reference (docs/configuration.md), generated from the traits.

Regenerate with ``python -m jupyterhub_onboarding.configdoc > docs/configuration.md``.
"""

from __future__ import annotations

import inspect

from traitlets.config import Configurable


def _default(cls: type[Configurable], name: str, trait) -> str:
    # a default computed at start may be defined by a settings class the class inherits
    if any(name in getattr(base, "_trait_default_generators", {}) for base in cls.__mro__):
        return "derived at start (see below)"
    return f"`{trait.default()!r}`"


def reference(classes: list[type[Configurable]]) -> str:
    lines = [
        "# Configuration reference",
        "",
        "Generated from the code by `python -m jupyterhub_onboarding.configdoc`; a test keeps",
        "it in sync. Set options in `jupyterhub_onboarding_config.py` (in the service's working",
        "directory, or `--config PATH`) as `c.Class.option = value`, or on the command line as",
        "`--Class.option=value`.",
        "",
    ]
    for cls in classes:
        lines += [f"## `{cls.__name__}`", "", inspect.cleandoc(cls.__doc__ or ""), ""]
        traits = cls.class_traits(config=True)
        for name in sorted(traits):
            trait = traits[name]
            if trait.this_class.__module__.startswith("traitlets"):
                continue
            help_text = inspect.cleandoc(trait.help or "").replace("\n", " ")
            lines += [
                f"### `{cls.__name__}.{name}`",
                "",
                f"{trait.__class__.__name__}, default {_default(cls, name, trait)}.",
                "",
                help_text,
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    from .app import Onboarding
    from .collector.app import CollectApp
    from .settings import OnboardingEmail, StandardLinks

    print(reference([Onboarding, StandardLinks, OnboardingEmail, CollectApp]), end="")


if __name__ == "__main__":
    main()
