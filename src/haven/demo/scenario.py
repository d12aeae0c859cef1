"""The demo's customers: simulated X users who tweet at the bank the way real customers do.

It talks to xsim only over HTTP (its admin API creates users; users post with their own tokens),
exactly as a person on the customer page would.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass

import httpx

log = logging.getLogger(__name__)

CUSTOMERS = (
    ("maria_r", "Maria Rossi"),
    ("jdoe_88", "John Doe"),
    ("priya_k", "Priya Kapoor"),
    ("tom_builds", "Tom Becker"),
    ("lena_w", "Lena Weber"),
    ("carlos_m", "Carlos Mendes"),
    ("aiko_t", "Aiko Tanaka"),
    ("sam_o", "Sam O'Neil"),
)

#: Followers and the verified badge of each demo customer (username → (followers, verified)):
#: mostly small audiences, one verified account whose complaint would be seen by many.
AUDIENCE = {
    "maria_r": (412, False),
    "jdoe_88": (87, False),
    "priya_k": (2_310, False),
    "tom_builds": (15, False),
    "lena_w": (640, False),
    "carlos_m": (184_000, True),
    "aiko_t": (1_205, False),
    "sam_o": (33, False),
}

OPENERS = (
    "I lost my debit card somewhere in town, how do I block it right now?",
    "my card was stolen last night. please help, I need it frozen",
    "my transfer to my landlord failed twice today and rent is due. what is going on?",
    "sent money yesterday and it still hasn't arrived. how long do transfers take?",
    "why was I charged a £5 fee for using my card abroad?? nobody told me about this",
    "there's a payment on my account I don't recognise. is this fraud?",
    "your app keeps logging me out every time I open it",
    "just wanted to say the staff at the high street branch were brilliant today, thank you!",
    "how do I change my address? moved house last week",
    "can I increase my contactless limit?",
    "is the app down? can't see my balance",
    "my card got declined at the supermarket even though I have money. embarrassing",
    "how do I get a new PIN? forgot mine",
    "the exchange rate you gave me on my transfer to euros looks wrong",
    "applied for an overdraft 5 days ago, no reply yet. any update?",
    "love the new savings feature in the app, nice work",
    "cash machine kept my card!! what now?",
    "I got a text saying my account is locked and to click a link. is that really you?",
    # Customers who write in their own language (routing gives these to agents who speak it).
    "hola, mi tarjeta no ha llegado todavía y ya pasaron dos semanas, ¿qué hago?",
    "¿por qué me cobraron una comisión por sacar dinero del cajero?",
    "bonjour, mon virement d'hier n'est toujours pas arrivé, c'est normal ?",
    "hallo, meine Karte wurde gestohlen, bitte sofort sperren!",
    # Customers who expose private data in public (triage masks it and offers the "delete" reply).
    "my card 4111 1111 1111 1111 got declined AGAIN, what is wrong with it?? 😡",
    "please call me on 07911 123456 about the transfer that never arrived",
    "refund still not here, my IBAN is GB82 WEST 1234 5698 7654 32, check it",
)

DIRECT_MESSAGES = (
    "Following up in private as you asked: it's about the card ending in my usual one",
    "DMing you instead, don't want to post my details publicly",
    "here is the private message you asked for, what do you need from me?",
)

FOLLOW_UPS = (
    "any update on this?",
    "still waiting for an answer here",
    "thanks, that helped!",
    "ok, I'll try that now",
    "it's been an hour, can someone please look at this",
    "sorted now, thanks for the quick reply",
)


@dataclass
class _Customer:
    username: str
    token: str
    threads: list[str]


class Scenario:
    def __init__(
        self,
        xsim_url: str,
        brand_handle: str,
        *,
        interval: tuple[float, float] = (3.0, 8.0),
        seed: int | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=xsim_url, timeout=10)
        self._brand = brand_handle.lstrip("@")
        self._interval = interval
        self._random = random.Random(seed)  # noqa: S311 (simulated customers, not security)
        self._customers: list[_Customer] = []

    async def _customer(self, username: str, name: str) -> _Customer:
        followers, verified = AUDIENCE.get(username, (0, False))
        audience = {"followers_count": followers, "verified": verified}
        response = await self._http.post("/_sim/users", json={"username": username, "name": name, **audience})
        if response.status_code == 409:
            # Made earlier (the demo directory creates them by name only): give them their audience.
            patched = await self._http.patch(f"/_sim/users/{username}", json=audience)
            if patched.status_code != 200:
                log.debug("scenario could not set the audience of %s: %s", username, patched.status_code)
            response = await self._http.get(f"/_sim/users/{username}")
        response.raise_for_status()
        return _Customer(username=username, token=response.json()["access_token"], threads=[])

    async def setup(self) -> None:
        self._customers = [await self._customer(u, n) for u, n in CUSTOMERS]

    async def post_one(self) -> None:
        customer = self._random.choice(self._customers)
        body: dict[str, object]
        if customer.threads and self._random.random() < 0.15:
            await self._dm(customer, self._random.choice(DIRECT_MESSAGES))
            return
        if customer.threads and self._random.random() < 0.3:
            text = f"@{self._brand} {self._random.choice(FOLLOW_UPS)}"
            body = {"text": text, "reply": {"in_reply_to_tweet_id": customer.threads[-1]}}
        else:
            text = f"@{self._brand} {self._random.choice(OPENERS)}"
            body = {"text": text}
        response = await self._http.post(
            "/2/tweets", json=body, headers={"Authorization": f"Bearer {customer.token}"}
        )
        if response.status_code == 201:
            customer.threads.append(response.json()["data"]["id"])
        else:
            # A duplicate text (403) is what X would answer too; the next round says something else.
            log.debug("scenario post answered %s", response.status_code)

    async def _dm(self, customer: _Customer, text: str) -> None:
        """A customer who tweeted moves to DMs, as banks ask them to."""
        brand = await self._http.get(f"/_sim/users/{self._brand}")
        brand.raise_for_status()
        response = await self._http.post(
            f"/2/dm_conversations/with/{brand.json()['id']}/messages",
            json={"text": text},
            headers={"Authorization": f"Bearer {customer.token}"},
        )
        if response.status_code != 201:
            log.debug("scenario DM answered %s", response.status_code)

    async def run(self) -> None:
        await self.setup()
        while True:
            try:
                await self.post_one()
            except httpx.HTTPError as exc:
                log.warning("scenario could not reach xsim: %s", exc)
            await asyncio.sleep(self._random.uniform(*self._interval))

    async def aclose(self) -> None:
        await self._http.aclose()
