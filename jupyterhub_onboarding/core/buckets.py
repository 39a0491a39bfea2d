"""The buckets of the usage and storage distributions, whose keys the status document carries.

Each bucket is (key, label, lower bound, upper bound); a value on an edge belongs to the
upper bucket (exactly 1 day is "1-7 days").
"""

from __future__ import annotations

import math

#: Time since last login, in days.
LAST_LOGIN_BUCKETS: tuple[tuple[str, str, float, float], ...] = (
    ("under_1d", "under 1 day", 0.0, 1.0),
    ("1d_7d", "1-7 days", 1.0, 7.0),
    ("7d_30d", "7-30 days", 7.0, 30.0),
    ("30d_90d", "30-90 days", 30.0, 90.0),
    ("over_90d", "over 90 days", 90.0, math.inf),
)

#: Server-minutes per user in a month (users with a session in it), in minutes.
SERVER_MINUTES_BUCKETS: tuple[tuple[str, str, float, float], ...] = (
    ("under_30m", "under 30 minutes", 0.0, 30.0),
    ("30m_2h", "30 minutes-2 hours", 30.0, 120.0),
    ("2h_10h", "2-10 hours", 120.0, 600.0),
    ("10h_40h", "10-40 hours", 600.0, 2400.0),
    ("over_40h", "40 hours or more", 2400.0, math.inf),
)

#: Decimal units, as disk sizes are sold and quotas usually written.
MB = 10**6
GB = 10**9

#: Buckets of home directory size in bytes: (key, label, lower bound, upper bound). A size on
#: an edge belongs to the upper bucket (exactly 1 GB is "1-10 GB").
SIZE_BUCKETS: tuple[tuple[str, str, float, float], ...] = (
    ("under_100mb", "under 100 MB", 0.0, 100.0 * MB),
    ("100mb_1gb", "100 MB-1 GB", 100.0 * MB, 1.0 * GB),
    ("1gb_10gb", "1-10 GB", 1.0 * GB, 10.0 * GB),
    ("10gb_100gb", "10-100 GB", 10.0 * GB, 100.0 * GB),
    ("over_100gb", "100 GB or more", 100.0 * GB, math.inf),
)
