"""The customer page, its threads fragment and the act-as-customer endpoint."""

from __future__ import annotations

import re

import httpx
from xsim_support import Sim

from xsim.middleware import CONTENT_SECURITY_POLICY

HOSTILE = "@ExampleBankHelp <script>alert('pwned')</script> & <img src=x onerror=alert(1)>"


async def test_page_lists_customers_and_offers_creation(client: httpx.AsyncClient, sim: Sim) -> None:
    await sim.user("alice", "Alice <b>bold</b>")
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    for element_id in ("user-select", "new-user-name", "create-user"):
        assert f'id="{element_id}"' in html
    assert '<option value="alice">@alice (Alice &lt;b&gt;bold&lt;/b&gt;)</option>' in html
    assert "ExampleBankHelp</option>" not in html  # the brand is not a customer
    assert 'id="compose-text"' not in html  # nobody selected yet


async def test_csp_and_no_inline_script_or_style(client: httpx.AsyncClient, sim: Sim) -> None:
    await sim.user("alice")
    response = await client.get("/", params={"user": "alice"})
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    html = response.text
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.S)
    assert scripts == [""]  # one external script, nothing inline
    assert '<script src="/static/xsim.js" defer>' in html
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    assert "http://" not in html and "https://" not in html  # no external assets


async def test_static_assets_are_served(client: httpx.AsyncClient) -> None:
    js = await client.get("/static/xsim.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "innerHTML" not in js.text and "eval(" not in js.text
    css = await client.get("/static/xsim.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]


async def test_selected_user_page_escapes_tweet_text(client: httpx.AsyncClient, sim: Sim, brand) -> None:
    alice = await sim.user("alice")
    root = await sim.post(alice.auth, HOSTILE)
    await sim.post(brand(), "@alice </p><script>x()</script>", reply_to=root)
    html = (await client.get("/", params={"user": "alice"})).text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; &amp; &lt;img src=x" in html
    assert "&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;" in html
    assert '<textarea id="compose-text" rows="3" aria-label="Tweet text">@ExampleBankHelp </textarea>' in html


async def test_threads_fragment_nests_brand_replies(client: httpx.AsyncClient, sim: Sim, brand) -> None:
    alice = await sim.user("alice")
    bob = await sim.user("bob")
    old = await sim.post(alice.auth, "@ExampleBankHelp old question")
    root = await sim.post(alice.auth, "@ExampleBankHelp card blocked")
    reply = await sim.post(brand(), "@alice which card?", reply_to=root)
    answer = await sim.post(alice.auth, "@ExampleBankHelp debit", reply_to=reply)
    side = await sim.post(brand(), "@alice also this", reply_to=root)
    await sim.post(bob.auth, "@ExampleBankHelp not alice's business")

    response = await client.get("/ui/threads", params={"user": "alice"})
    assert response.status_code == 200
    html = response.text
    threads = re.findall(r'<article class="thread" data-conversation-id="(\d+)"', html)
    assert threads == [root, old]  # latest activity first; bob's thread is not alice's
    order = re.findall(r'<li class="tweet( from-brand)?"\s+data-tweet-id="(\d+)"', html)
    assert [tweet_id for _, tweet_id in order] == [root, reply, answer, side, old]
    assert [bool(brand_mark) for brand_mark, _ in order] == [False, True, False, True, False]
    # The reply to the brand's tweet sits in the brand tweet's own <ol class="replies">.
    nested = html[html.index(f'data-tweet-id="{reply}"') : html.index(f'data-tweet-id="{side}"')]
    assert '<ol class="replies">' in nested and f'data-tweet-id="{answer}"' in nested
    assert html.count('class="reply-button link"') == 5


async def test_deleted_tweets_become_tombstones(client: httpx.AsyncClient, sim: Sim, brand) -> None:
    alice = await sim.user("alice")
    root = await sim.post(alice.auth, "@ExampleBankHelp secret account number 1234")
    await sim.post(brand(), "@alice please delete that", reply_to=root)
    await client.delete(f"/2/tweets/{root}", headers=alice.auth)
    html = (await client.get("/ui/threads", params={"user": "alice"})).text
    assert "1234" not in html
    assert "This post was deleted." in html
    assert "please delete that" in html


async def test_unknown_user(client: httpx.AsyncClient) -> None:
    page = await client.get("/", params={"user": "<ghost>"})
    assert page.status_code == 200
    assert "No customer named “&lt;ghost&gt;”" in page.text
    fragment = await client.get("/ui/threads", params={"user": "ghost"})
    assert fragment.status_code == 404
    brand_fragment = await client.get("/ui/threads", params={"user": "ExampleBankHelp"})
    assert brand_fragment.status_code == 404


async def test_ui_tweet_posts_and_replies_as_the_customer(client: httpx.AsyncClient, sim: Sim, brand) -> None:
    alice = await sim.user("alice")
    first = await client.post("/ui/tweet", json={"username": "alice", "text": "@ExampleBankHelp hi"})
    assert first.status_code == 201
    root = first.json()["data"]["id"]
    reply = await sim.post(brand(), "@alice hello!", reply_to=root)
    second = await client.post(
        "/ui/tweet",
        json={"username": "alice", "text": "@ExampleBankHelp thanks", "in_reply_to_tweet_id": reply},
    )
    assert second.status_code == 201
    records = (await client.get("/_sim/tweets", params={"conversation_id": root})).json()["tweets"]
    assert [t["author_id"] for t in records] == [alice.id, records[1]["author_id"], alice.id]
    assert records[2]["in_reply_to_tweet_id"] == reply


async def test_ui_tweet_follows_the_api_rules(client: httpx.AsyncClient, sim: Sim) -> None:
    await sim.user("alice")
    body = {"username": "alice", "text": "@ExampleBankHelp same"}
    assert (await client.post("/ui/tweet", json=body)).status_code == 201
    duplicate = await client.post("/ui/tweet", json=body)
    assert duplicate.status_code == 403
    too_long = await client.post("/ui/tweet", json={"username": "alice", "text": "x" * 281})
    assert too_long.status_code == 400
    as_brand = await client.post("/ui/tweet", json={"username": "ExampleBankHelp", "text": "hi"})
    assert as_brand.status_code == 404


async def test_ui_tweet_needs_a_json_body(client: httpx.AsyncClient, sim: Sim) -> None:
    """A cross-site HTML form cannot send JSON, so it cannot post as a customer."""
    await sim.user("alice")
    for content_type, content in (
        ("text/plain", '{"username": "alice", "text": "hi"}'),
        ("application/x-www-form-urlencoded", "username=alice&text=hi"),
    ):
        response = await client.post("/ui/tweet", content=content, headers={"content-type": content_type})
        assert response.status_code == 400
