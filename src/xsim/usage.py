"""X's usage caps: past the app's allowance of posts, every post is refused as ``usage-capped``."""

from __future__ import annotations

from xsim.errors import PROBLEMS, ApiError
from xsim.simulator import Simulator


def usage_capped() -> ApiError:
    """The contract's (section 2) terminal 429: do not retry before the period ends."""
    return ApiError(
        429,
        {
            "title": "UsageCapExceeded",
            "detail": "Usage cap exceeded: Monthly product cap",
            "type": PROBLEMS + "usage-capped",
            "period": "Monthly",
            "scope": "Product",
        },
    )


def charge_post(sim: Simulator) -> None:
    """Count one post against ``post_usage_cap``, or refuse it once the cap is reached."""
    cap = sim.config.post_usage_cap
    if cap is not None and sim.posts_made >= cap:
        raise usage_capped()
    sim.posts_made += 1
