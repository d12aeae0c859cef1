"""``/_sim/traffic``: start, watch and stop a run of simulated customer traffic (see ``traffic``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from xsim.errors import generic
from xsim.simulator import Simulator, get_sim
from xsim.traffic import TrafficPlan, TrafficRun

router = APIRouter(prefix="/_sim/traffic")
Sim = Annotated[Simulator, Depends(get_sim)]


def _status(run: TrafficRun | None, *, with_posts: bool) -> dict[str, object]:
    if run is None:
        return {"running": False}
    status: dict[str, object] = {
        "running": run.finished_at is None,
        "plan": run.plan.model_dump(),
        "tweets_created": run.tweets_created,
        "dms_created": run.dms_created,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "error": run.error,
    }
    if with_posts:
        status["accepted"] = [{"id": i, "kind": k, "at": at} for i, k, at in run.accepted]
    return status


@router.post("", status_code=202)
async def start_traffic(plan: TrafficPlan, sim: Sim) -> dict[str, object]:
    generator = sim.traffic
    if generator.busy:
        raise generic(409, "A traffic run is already going; wait for it or DELETE /_sim/traffic")
    return _status(generator.start(sim, plan), with_posts=False)


@router.get("")
async def traffic_status(sim: Sim, posts: bool = False) -> dict[str, object]:
    """The current run's progress; ``posts=true`` adds every post's id and acceptance time."""
    return _status(sim.traffic.run, with_posts=posts)


@router.delete("")
async def stop_traffic(sim: Sim) -> dict[str, object]:
    generator = sim.traffic
    await generator.stop()
    return _status(generator.run, with_posts=False)
