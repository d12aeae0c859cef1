"""The console's admin pages: priority rules, SLA targets and business hours, teams, templates.

Who may do what: admins change everything here; supervisors may look (the same pages, read-only,
so they can see why a conversation got its priority, team or deadline); agents get 403. The role
is checked on every route, and every change is a CSRF-checked form post, scoped to the admin's
brand and audited in its own transaction by the service it calls.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from haven.agents import teams
from haven.kit.actor import Actor
from haven.kit.errors import Forbidden
from haven.kit.validation import FormInvalid
from haven.models import Agent, Role, TriageSettings
from haven.responses import admin as templates
from haven.responses.render import VARIABLES
from haven.triage import admin as policy_admin
from haven.triage.intents import INTENT_GROUPS, IntentGroup, intent_label
from haven.triage.language import LANGUAGE_NAMES
from haven.triage.pii.detect import PiiType
from haven.triage.policy import load_policy, policy_of
from haven.triage.priority import (
    DEFAULT_RULES,
    MAX_DOCUMENT_BYTES,
    MAX_RULES,
    Condition,
    PriorityDecision,
    RulesInvalid,
    decide_priority,
    dump_rules,
    parse_rules,
)
from haven.triage.sla import MAX_TARGET_MINUTES
from haven.web import admin_forms as forms
from haven.web.auth import console_agent
from haven.web.deps import SessionDep
from haven.web.pages import CsrfChecked
from haven.web.render import render

router = APIRouter(prefix="/admin", include_in_schema=False)
#: A team's or template's id in a URL; larger numbers cannot be ids and would overflow the database's integer.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]

#: What each rule condition means, for the reference beside the rules editor.
CONDITION_HELP: dict[str, str] = {
    "intents": "list of intents; the post's intent is one of them",
    "groups": "list of intent groups; the post's intent is in one of them",
    "sentiment_at_most": "number from -1 (furious) to 1 (delighted); the post is this negative or more",
    "followers_at_least": "whole number; the author has at least this many followers",
    "verified": "true or false; the author's account is verified (or not)",
    "private_data_exposed": "true or false; the post shows private data to everyone",
    "public": "true for a public post, false for a direct message",
    "languages": "list of language codes; the post is written in one of them",
    "min_confidence": "number from 0 to 1; the intent model is at least this sure",
}
#: Languages as the forms list them: English first, then by name.
_LANGUAGES = dict(sorted(LANGUAGE_NAMES.items(), key=lambda item: (item[0] != "en", item[1])))
_SAVED = {
    "rules": "The priority rules are saved; they apply to posts from now on.",
    "reset": "The priority rules are back to the defaults.",
    "sla": "Saved; open conversations' deadlines now follow these targets and hours.",
    "team": "The team is saved.",
    "team-deleted": "The team is deleted; its conversations go to the team that fits them next.",
    "template": "The template is saved.",
    "template-deleted": "The template is deleted.",
}


async def _viewer(session: AsyncSession, request: Request) -> Agent:
    agent = await console_agent(session, request)
    if agent.role not in (Role.ADMIN, Role.SUPERVISOR):
        raise Forbidden("Only admins and supervisors can see the admin pages.")
    return agent


async def _admin(session: AsyncSession, request: Request) -> Agent:
    agent = await console_agent(session, request)
    if agent.role is not Role.ADMIN:
        raise Forbidden("Only admins can change triage settings, teams and templates.")
    return agent


def _page(
    request: Request,
    template: str,
    agent: Agent,
    section: str,
    context: dict[str, Any],
    *,
    problems: tuple[str, ...] = (),
    status_code: int = 200,
) -> Response:
    saved = request.query_params.get("saved")
    return render(
        request,
        f"admin/{template}",
        {
            "agent": agent,
            "can_edit": agent.role is Role.ADMIN,
            "section": section,
            "saved": _SAVED.get(saved or ""),
            "problems": problems,
            **context,
        },
        status_code,
    )


def _back(url: str, saved: str) -> RedirectResponse:
    return RedirectResponse(f"{url}?saved={saved}", status_code=303)


@router.get("", response_class=HTMLResponse)
async def overview(request: Request, session: SessionDep) -> Response:
    agent = await _viewer(session, request)
    row = await session.get(TriageSettings, agent.brand_id)
    context = {
        "policy": policy_of(row),
        "custom_rules": row is not None and row.priority_rules is not None,
        "teams": await teams.list_teams(session, agent.brand_id),
        "templates": await templates.list_templates(session, agent.brand_id),
    }
    return _page(request, "index.html", agent, "overview", context)


# Priority rules -------------------------------------------------------------------------------


def _rules_page(
    request: Request,
    agent: Agent,
    *,
    document: str,
    custom: bool,
    sample: forms.Sample,
    decision: PriorityDecision | None = None,
    problems: tuple[str, ...] = (),
) -> Response:
    context = {
        "document": document,
        "custom": custom,
        "sample": sample,
        "decision": decision,
        "condition_fields": [(name, CONDITION_HELP.get(name, "")) for name in Condition.model_fields],
        "groups": [(group, [i for i, g in INTENT_GROUPS.items() if g is group]) for group in IntentGroup],
        "intents": sorted(INTENT_GROUPS),
        "intent_label": intent_label,
        "languages": _LANGUAGES,
        "pii_types": list(PiiType),
        "max_rules": MAX_RULES,
        "max_bytes": MAX_DOCUMENT_BYTES,
    }
    status_code = 422 if problems else 200
    return _page(
        request, "priority.html", agent, "priority", context, problems=problems, status_code=status_code
    )


@router.get("/priority", response_class=HTMLResponse)
async def priority_page(request: Request, session: SessionDep) -> Response:
    agent = await _viewer(session, request)
    row = await session.get(TriageSettings, agent.brand_id)
    custom = row is not None and row.priority_rules is not None
    document = dump_rules(policy_of(row).rules)
    return _rules_page(request, agent, document=document, custom=custom, sample=forms.Sample())


@router.post("/priority", dependencies=[CsrfChecked], response_class=HTMLResponse)
async def save_priority(request: Request, session: SessionDep) -> Response:
    agent = await _admin(session, request)
    form = await request.form()
    document = forms.text(form, "rules")
    try:
        await policy_admin.save_priority_rules(session, Actor.of(agent), agent.brand_id, document)
    except RulesInvalid as error:
        row = await session.get(TriageSettings, agent.brand_id)
        custom = row is not None and row.priority_rules is not None
        sample = forms.sample_from_form(form)
        return _rules_page(
            request, agent, document=document, custom=custom, sample=sample, problems=error.problems
        )
    return _back("/admin/priority", "rules")


@router.post("/priority/reset", dependencies=[CsrfChecked])
async def reset_priority(request: Request, session: SessionDep) -> Response:
    agent = await _admin(session, request)
    await policy_admin.reset_priority_rules(session, Actor.of(agent), agent.brand_id)
    return _back("/admin/priority", "reset")


@router.post("/priority/preview", dependencies=[CsrfChecked], response_class=HTMLResponse)
async def preview_priority(request: Request, session: SessionDep) -> Response:
    """Try the rules in the editor (saved or not) on a sample post; nothing is stored."""
    agent = await _admin(session, request)
    form = await request.form()
    document = forms.text(form, "rules")
    sample = forms.sample_from_form(form)
    row = await session.get(TriageSettings, agent.brand_id)
    custom = row is not None and row.priority_rules is not None
    problems: list[str] = []
    try:
        rules = parse_rules(document)
    except RulesInvalid as error:
        problems.extend(error.problems)
        rules = list(DEFAULT_RULES)
    try:
        signals = forms.signals_of(sample)
    except FormInvalid as error:
        problems.extend(error.problems)
    if problems:
        return _rules_page(
            request, agent, document=document, custom=custom, sample=sample, problems=tuple(problems)
        )
    decision = decide_priority(signals, rules)
    return _rules_page(request, agent, document=document, custom=custom, sample=sample, decision=decision)


# SLA & hours ----------------------------------------------------------------------------------


@functools.cache
def _time_zones() -> list[str]:
    return sorted(available_timezones())


def _sla_page(
    request: Request, agent: Agent, draft: policy_admin.SlaDraft, problems: tuple[str, ...] = ()
) -> Response:
    context = {
        "draft": draft,
        "priorities": policy_admin.PRIORITIES,
        "days": list(policy_admin.DAY_NAMES.items()),
        "time_zones": _time_zones(),
        "max_target": MAX_TARGET_MINUTES,
        "min_pickup": policy_admin.MIN_PICKUP_MINUTES,
        "max_pickup": policy_admin.MAX_PICKUP_MINUTES,
    }
    status_code = 422 if problems else 200
    return _page(request, "sla.html", agent, "sla", context, problems=problems, status_code=status_code)


@router.get("/sla", response_class=HTMLResponse)
async def sla_page(request: Request, session: SessionDep) -> Response:
    agent = await _viewer(session, request)
    policy = await load_policy(session, agent.brand_id)
    return _sla_page(request, agent, policy_admin.sla_draft(policy))


@router.post("/sla", dependencies=[CsrfChecked], response_class=HTMLResponse)
async def save_sla(request: Request, session: SessionDep) -> Response:
    agent = await _admin(session, request)
    draft = forms.sla_from_form(await request.form())
    try:
        await policy_admin.save_sla(session, Actor.of(agent), agent.brand_id, draft)
    except FormInvalid as error:
        return _sla_page(request, agent, draft, error.problems)
    return _back("/admin/sla", "sla")


# Teams ----------------------------------------------------------------------------------------


async def _team_page(
    request: Request,
    session: AsyncSession,
    agent: Agent,
    *,
    team_id: int | None,
    draft: teams.TeamDraft,
    problems: tuple[str, ...] = (),
) -> Response:
    context = {
        "team_id": team_id,
        "draft": draft,
        "agents": await teams.brand_agents(session, agent.brand_id),
        "languages": _LANGUAGES,
        "groups": list(IntentGroup),
        "min_capacity": teams.MIN_CAPACITY,
        "max_capacity": teams.MAX_CAPACITY,
    }
    status_code = 422 if problems else 200
    return _page(request, "team.html", agent, "teams", context, problems=problems, status_code=status_code)


@router.get("/teams", response_class=HTMLResponse)
async def team_list(request: Request, session: SessionDep) -> Response:
    agent = await _viewer(session, request)
    context = {"teams": await teams.list_teams(session, agent.brand_id), "languages": _LANGUAGES}
    return _page(request, "teams.html", agent, "teams", context)


@router.get("/teams/new", response_class=HTMLResponse)
async def new_team(request: Request, session: SessionDep) -> Response:
    agent = await _admin(session, request)
    agents = list(await teams.brand_agents(session, agent.brand_id))
    return await _team_page(request, session, agent, team_id=None, draft=forms.team_draft(None, agents))


@router.post("/teams", dependencies=[CsrfChecked], response_class=HTMLResponse)
async def create_team(request: Request, session: SessionDep) -> Response:
    agent = await _admin(session, request)
    draft = forms.team_from_form(await request.form())
    try:
        await teams.create_team(session, Actor.of(agent), agent.brand_id, draft)
    except FormInvalid as error:
        return await _team_page(request, session, agent, team_id=None, draft=draft, problems=error.problems)
    return _back("/admin/teams", "team")


@router.get("/teams/{team_id}", response_class=HTMLResponse)
async def team_page(request: Request, session: SessionDep, team_id: RowId) -> Response:
    agent = await _viewer(session, request)
    team = await teams.access_team(session, agent.brand_id, team_id)
    agents = list(await teams.brand_agents(session, agent.brand_id))
    return await _team_page(request, session, agent, team_id=team.id, draft=forms.team_draft(team, agents))


@router.post("/teams/{team_id}", dependencies=[CsrfChecked], response_class=HTMLResponse)
async def update_team(request: Request, session: SessionDep, team_id: RowId) -> Response:
    agent = await _admin(session, request)
    team = await teams.access_team(session, agent.brand_id, team_id)
    draft = forms.team_from_form(await request.form())
    try:
        await teams.update_team(session, Actor.of(agent), team, draft)
    except FormInvalid as error:
        return await _team_page(
            request, session, agent, team_id=team.id, draft=draft, problems=error.problems
        )
    return _back("/admin/teams", "team")


@router.post("/teams/{team_id}/delete", dependencies=[CsrfChecked])
async def delete_team(request: Request, session: SessionDep, team_id: RowId) -> Response:
    agent = await _admin(session, request)
    team = await teams.access_team(session, agent.brand_id, team_id)
    await teams.delete_team(session, Actor.of(agent), team)
    return _back("/admin/teams", "team-deleted")


# Templates ------------------------------------------------------------------------------------


def _template_page(
    request: Request,
    agent: Agent,
    *,
    template_id: int | None,
    draft: templates.TemplateDraft,
    problems: tuple[str, ...] = (),
) -> Response:
    context = {
        "template_id": template_id,
        "draft": draft,
        "languages": _LANGUAGES,
        "groups": [(group, [i for i, g in INTENT_GROUPS.items() if g is group]) for group in IntentGroup],
        "intent_label": intent_label,
        "variables": VARIABLES,
        "max_body": templates.MAX_BODY_LENGTH,
    }
    status_code = 422 if problems else 200
    return _page(
        request, "template.html", agent, "templates", context, problems=problems, status_code=status_code
    )


@router.get("/templates", response_class=HTMLResponse)
async def template_list(request: Request, session: SessionDep) -> Response:
    agent = await _viewer(session, request)
    context = {
        "templates": await templates.list_templates(session, agent.brand_id),
        "languages": _LANGUAGES,
        "intent_label": intent_label,
    }
    return _page(request, "templates.html", agent, "templates", context)


@router.get("/templates/new", response_class=HTMLResponse)
async def new_template(request: Request, session: SessionDep) -> Response:
    agent = await _admin(session, request)
    return _template_page(request, agent, template_id=None, draft=forms.template_draft(None))


@router.post("/templates", dependencies=[CsrfChecked], response_class=HTMLResponse)
async def create_template(request: Request, session: SessionDep) -> Response:
    agent = await _admin(session, request)
    draft = forms.template_from_form(await request.form())
    try:
        await templates.create_template(session, Actor.of(agent), agent.brand_id, draft)
    except FormInvalid as error:
        return _template_page(request, agent, template_id=None, draft=draft, problems=error.problems)
    return _back("/admin/templates", "template")


@router.get("/templates/{template_id}", response_class=HTMLResponse)
async def template_page(request: Request, session: SessionDep, template_id: RowId) -> Response:
    agent = await _viewer(session, request)
    template = await templates.access_template(session, agent.brand_id, template_id)
    return _template_page(request, agent, template_id=template.id, draft=forms.template_draft(template))


@router.post("/templates/{template_id}", dependencies=[CsrfChecked], response_class=HTMLResponse)
async def update_template(request: Request, session: SessionDep, template_id: RowId) -> Response:
    agent = await _admin(session, request)
    template = await templates.access_template(session, agent.brand_id, template_id)
    draft = forms.template_from_form(await request.form())
    try:
        await templates.update_template(session, Actor.of(agent), template, draft)
    except FormInvalid as error:
        return _template_page(request, agent, template_id=template.id, draft=draft, problems=error.problems)
    return _back("/admin/templates", "template")


@router.post("/templates/{template_id}/delete", dependencies=[CsrfChecked])
async def delete_template(request: Request, session: SessionDep, template_id: RowId) -> Response:
    agent = await _admin(session, request)
    template = await templates.access_template(session, agent.brand_id, template_id)
    await templates.delete_template(session, Actor.of(agent), template)
    return _back("/admin/templates", "template-deleted")
