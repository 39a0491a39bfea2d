"""``python -m jupyterhub_onboarding``: the service, as the hub starts it."""

import gc

from jupyterhub_onboarding.service.collection import Collections

# No full collection while the modules load (each would walk everything loaded so far, the
# longest pause of a start), and what they built is out of later collections' reach. The
# service's modules are loaded here too: the application would load them on starting it.
with Collections().held():
    import jupyterhub_onboarding.service.wiring  # noqa: F401
    from jupyterhub_onboarding.app import main
gc.freeze()

main()
