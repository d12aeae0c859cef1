"""The demo bank's response templates and skill-based teams.

Idempotent: what exists by name is kept as it is (an admin may have edited it), the rest is made
through the same checked and audited commands the admin pages use.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.agents.teams import TeamDraft, create_team, list_teams
from haven.kit.actor import SYSTEM
from haven.models import Agent, Brand, ResponseTemplate
from haven.responses.admin import TemplateDraft, create_template

PRIVATE_DATA_TEMPLATE = "Please delete your post (private details)"

DEMO_TEMPLATES: tuple[TemplateDraft, ...] = (
    TemplateDraft(
        name=PRIVATE_DATA_TEMPLATE,
        for_private_data=True,
        bodies={
            "en": "Hi {customer_name}, please delete your post: it shows private details that anyone can "
            "see. We will never ask for them in public. We are sending you a link to a secure chat "
            "to help you there. {agent_name}",
            "es": "Hola {customer_name}, por favor borra tu publicación: muestra datos privados que "
            "cualquiera puede ver. Nunca te los pediremos en público. Te enviamos un enlace a un chat "
            "seguro para ayudarte allí. {agent_name}",
            "fr": "Bonjour {customer_name}, merci de supprimer votre message : il montre des données "
            "privées visibles par tous. Nous ne vous les demanderons jamais en public. Nous vous "
            "envoyons un lien vers un chat sécurisé. {agent_name}",
            "de": "Hallo {customer_name}, bitte lösche deinen Beitrag: Er zeigt private Daten, die jeder "
            "sehen kann. Wir fragen nie öffentlich danach. Wir schicken dir einen Link zu einem "
            "sicheren Chat. {agent_name}",
        },
    ),
    TemplateDraft(
        name="Card lost or stolen",
        intents=("lost_or_stolen_card", "compromised_card", "lost_or_stolen_phone"),
        bodies={
            "en": "Sorry to hear that, {customer_name}. Please freeze your card now in the {brand} app "
            "(Cards → Freeze). We are sending you a link to a secure chat to sort out the rest; "
            "please share no card details here. {agent_name}",
            "es": "Lo sentimos, {customer_name}. Congela tu tarjeta ahora en la app de {brand} "
            "(Tarjetas → Congelar). Te enviamos un enlace a un chat seguro para resolver el resto; "
            "no compartas datos de la tarjeta aquí. {agent_name}",
        },
    ),
    TemplateDraft(
        name="Card arrival",
        intents=("card_arrival", "card_delivery_estimate"),
        bodies={
            "en": "Hi {customer_name}, new cards usually arrive within 5 working days of ordering; the "
            "{brand} app shows when yours was sent. Not there after 10 days? Tell us and we'll "
            "send a replacement. {agent_name}",
            "es": "Hola {customer_name}, las tarjetas nuevas suelen llegar en 5 días hábiles; la app de "
            "{brand} muestra cuándo se envió la tuya. ¿No ha llegado en 10 días? Dínoslo y te "
            "enviamos otra. {agent_name}",
        },
    ),
    TemplateDraft(
        name="Transfer pending",
        intents=("pending_transfer", "transfer_timing", "balance_not_updated_after_bank_transfer"),
        bodies={
            "en": "Hi {customer_name}, most transfers arrive within a few hours, but some take up to one "
            "working day. If yours still shows as pending tomorrow, send us a DM and we'll look into "
            "it. {agent_name}",
            "es": "Hola {customer_name}, la mayoría de las transferencias llegan en unas horas, pero "
            "algunas tardan hasta un día hábil. Si mañana sigue pendiente, escríbenos por DM y lo "
            "revisamos. {agent_name}",
        },
    ),
    TemplateDraft(
        name="Refund",
        intents=("request_refund", "Refund_not_showing_up", "reverted_card_payment?"),
        bodies={
            "en": "Hi {customer_name}, refunds show up once the shop sends them, usually within 5 working "
            "days. If it's been longer, send us a DM with the shop's name and date (no card "
            "numbers) and we'll check. {agent_name}",
            "es": "Hola {customer_name}, los reembolsos aparecen cuando la tienda los envía, normalmente en "
            "5 días hábiles. Si ha pasado más tiempo, escríbenos por DM con la tienda y la fecha "
            "(sin números de tarjeta). {agent_name}",
        },
    ),
    TemplateDraft(
        name="Thanks",
        intent_groups=("other",),
        bodies={
            "en": "Thank you, {customer_name}! We're glad to hear it and we'll pass it on to the team. "
            "{agent_name}",
            "es": "¡Gracias, {customer_name}! Nos alegra mucho y se lo diremos al equipo. {agent_name}",
        },
    ),
)

DEMO_TEAMS: tuple[TeamDraft, ...] = (
    TeamDraft(name="Fraud & security", intent_groups=("security",), routing_mode="least_loaded"),
    TeamDraft(name="Cards & payments", intent_groups=("cards", "payments"), routing_mode="least_loaded"),
    TeamDraft(name="Spanish desk", languages=("es",), routing_mode="round_robin"),
    TeamDraft(name="General", routing_mode="least_loaded"),
)


async def seed_triage_demo(session: AsyncSession, brand: Brand) -> None:
    """Create the demo's templates and teams that the brand lacks; every active agent joins each team.

    "General" (no skills: it takes whatever no other team does) is left out when the brand has a
    team without skills already, since routing would give that older team every such conversation.
    """
    names = set(
        (
            await session.scalars(select(ResponseTemplate.name).where(ResponseTemplate.brand_id == brand.id))
        ).all()
    )
    for template in DEMO_TEMPLATES:
        if template.name not in names:
            await create_template(session, SYSTEM, brand.id, template)

    teams = await list_teams(session, brand.id)
    have = {team.name.casefold() for team in teams}
    has_catch_all = any(not team.languages and not team.intent_groups for team in teams)
    agents = (
        await session.scalars(select(Agent.id).where(Agent.brand_id == brand.id, Agent.is_active.is_(True)))
    ).all()
    for team in DEMO_TEAMS:
        catch_all = not team.languages and not team.intent_groups
        if team.name.casefold() in have or (catch_all and has_catch_all):
            continue
        members = [str(agent_id) for agent_id in agents]
        await create_team(session, SYSTEM, brand.id, replace(team, member_ids=members))
