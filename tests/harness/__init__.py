"""The test harness: the real components the tests start, and what they share.

- :mod:`harness.process`: one managed process (start with its log kept, wait until ready,
  stop without leaving a process behind), ``wait_until`` and ``free_port``
- :mod:`harness.hub`: JupyterHub with configurable-http-proxy and this service
- :mod:`harness.prometheus`, :mod:`harness.alertmanager`: Debian's Prometheus and
  Alertmanager, and the PromQL and routes this project ships
- :mod:`harness.postgres`: a throwaway PostgreSQL cluster
- :mod:`harness.faultproxy`: a proxy in front of the hub API that breaks on demand
- :mod:`harness.browser`: Debian's Chromium through Playwright
- :mod:`harness.servicelog`: the service's own lines in the hub's log
- :mod:`harness.statusschema`: the status document's published JSON Schema
- :mod:`harness.components`: skip (or fail in CI) when a real component is missing

The fixtures built on them live in the ``conftest.py`` of each test folder.
"""

from pathlib import Path

#: The repository's root.
ROOT = Path(__file__).resolve().parents[2]
