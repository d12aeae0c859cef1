"""The customer page, its threads fragment, the act-as-customer endpoint and clickable links."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup
from xsim_support import Sim

from xsim.linkify import linkify
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


# -- links in tweet and DM text ------------------------------------------------------------------

CHAT_LINK = "http://127.0.0.1:8000/chat/i/AbC123-xyz_9"


def anchor(url: str, shown: str | None = None) -> str:
    return f'<a href="{url}" rel="noopener noreferrer" target="_blank">{shown or url}</a>'


class _Fragment(HTMLParser):
    """What a browser would make of ``linkify``'s output: the tags and the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text += data


def parsed(text: str) -> _Fragment:
    fragment = _Fragment()
    fragment.feed(str(linkify(text)))
    fragment.close()
    return fragment


def test_linkify_turns_http_urls_into_links() -> None:
    assert linkify(f"Continue here: {CHAT_LINK}") == f"Continue here: {anchor(CHAT_LINK)}"
    assert linkify("https://bank.example/a?b=1&c=2") == anchor("https://bank.example/a?b=1&amp;c=2")
    assert linkify("HTTPS://BANK.EXAMPLE/X") == anchor("HTTPS://BANK.EXAMPLE/X")
    # Sentence punctuation after a link is not part of it (the same rule as xsim's URL entities).
    assert linkify(f"({CHAT_LINK}).") == f"({anchor(CHAT_LINK)})."
    assert (
        linkify("a http://x.test b https://y.test")
        == f"a {anchor('http://x.test')} b {anchor('https://y.test')}"
    )
    assert linkify("no links, just http:// and https://.") == "no links, just http:// and https://."
    assert linkify(None) == "" and linkify("") == ""
    assert isinstance(linkify("plain"), Markup)


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert('pwned')</script> http://x.test/",
        'http://x.test/"onmouseover=alert(1) x',
        'http://x.test/" onmouseover="alert(1)',
        "http://x.test/a'onclick='alert(1)'",
        "http://x.test/<script>alert(1)</script>",
        "http://x.test/&quot;onmouseover=alert(1)",
        "javascript:alert(1)",
        "JaVaScRiPt:alert('http://x.test')",
        '<a href="javascript:alert(1)">click</a>',
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1) //evil.test/x ftp://evil.test/x",
        "http://x.test/\u202etxt.exe",
        "&lt;script&gt; &amp; &#x3C;",
    ],
)
def test_linkify_cannot_be_broken_out_of(hostile: str) -> None:
    html = str(linkify(hostile))
    assert "<script" not in html and '<a href="javascript' not in html.lower()
    fragment = parsed(hostile)
    assert fragment.text == hostile  # everything the customer sees is exactly what was written
    for tag, attrs in fragment.tags:
        assert tag == "a"
        assert set(attrs) == {"href", "rel", "target"}
        assert attrs["rel"] == "noopener noreferrer" and attrs["target"] == "_blank"
        href = attrs["href"] or ""
        assert href.lower().startswith(("http://", "https://")) and href in hostile


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["http://", "https://", "HTTP://", "javascript:", "x.test", "/", " ", "\n"]),
            st.sampled_from(list("<>\"'&;=().,:!?#%")),
            st.text(max_size=5),
        ),
        max_size=25,
    ).map("".join)
)
def test_linkify_only_ever_makes_http_links(text: str) -> None:
    fragment = parsed(text)
    assert fragment.text == text
    for tag, attrs in fragment.tags:
        assert tag == "a" and set(attrs) == {"href", "rel", "target"}
        assert (attrs["href"] or "").lower().startswith(("http://", "https://"))


async def test_links_in_brand_replies_and_dms_are_clickable(
    client: httpx.AsyncClient, sim: Sim, brand
) -> None:
    alice = await sim.user("alice")
    root = await sim.post(alice.auth, "@ExampleBankHelp my card is blocked")
    await sim.post(brand(), f"@alice Let's continue privately: {CHAT_LINK}", reply_to=root)
    sent = await client.post(
        "/_sim/dms",
        json={
            "from_username": "ExampleBankHelp",
            "to_username": "alice",
            "text": f"Your secure chat: {CHAT_LINK}.",
        },
    )
    assert sent.status_code == 201, sent.text

    threads = (await client.get("/ui/threads", params={"user": "alice"})).text
    assert f'<p class="text">@alice Let&#39;s continue privately: {anchor(CHAT_LINK)}</p>' in threads
    dms = (await client.get("/ui/dms", params={"user": "alice"})).text
    assert f'<p class="text">Your secure chat: {anchor(CHAT_LINK)}.</p>' in dms
    page = (await client.get("/", params={"user": "alice"})).text
    assert page.count(anchor(CHAT_LINK)) == 2


async def test_hostile_links_stay_text_on_the_page(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    await sim.post(alice.auth, '@ExampleBankHelp http://x.test/"onmouseover=alert(1) javascript:alert(2)')
    await client.post(
        "/_sim/dms", json={"from_username": "alice", "text": "<a href='javascript:alert(3)'>x</a>"}
    )
    html = (await client.get("/", params={"user": "alice"})).text
    assert not re.search(r"\son[a-z]+=", html)
    assert "javascript:alert(2)" in html and 'href="javascript' not in html
    assert "&lt;a href=&#39;javascript:alert(3)&#39;&gt;x&lt;/a&gt;" in html
    assert anchor("http://x.test/") + "&#34;onmouseover=alert(1)" in html
