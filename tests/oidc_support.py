"""A real OpenID provider for tests: panva's oidc-provider (tools/oidc-provider), run with node.

``start_oidc_provider`` starts it on a free port of 127.0.0.1 and returns once it accepts
connections. Its login page is the library's development form: any login and any password are
accepted and the login becomes the ``sub``. There is no consent page (see tools/oidc-provider).

``sign_in`` and ``cancel_sign_in`` play the customer's browser with plain httpx and return the
query parameters of the final redirect to the client's redirect URI (which is never requested).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx

PROVIDER_DIR = Path(__file__).resolve().parent.parent / "tools" / "oidc-provider"
READY_PREFIX = "oidc-provider listening on "


class OidcProviderUnavailable(RuntimeError):
    """The provider could not be started; the message says what the developer should do."""


@dataclass
class OidcProvider:
    issuer: str
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    process: subprocess.Popen[str] = field(repr=False)
    #: The last lines the provider wrote (stdout and stderr), for failure messages.
    output: deque[str] = field(repr=False)
    readers: list[threading.Thread] = field(repr=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: the server closes and exits 0
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for reader in self.readers:
            reader.join(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> OidcProvider:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _collect(stream: object, into: deque[str], ready: list[str], event: threading.Event) -> None:
    """Read one pipe to its end (so the child never blocks on a full pipe), noting the ready line."""
    assert hasattr(stream, "readline")
    for line in iter(stream.readline, ""):
        line = line.rstrip("\n")
        into.append(line)
        if line.startswith(READY_PREFIX) and not ready:
            ready.append(line.removeprefix(READY_PREFIX).strip())
            event.set()
    event.set()  # end of stream: the process is gone


def start_oidc_provider(
    redirect_uris: list[str],
    *,
    client_id: str = "haven-test",
    client_secret: str | None = None,
    timeout: float = 20.0,
) -> OidcProvider:
    node = shutil.which("node")
    if node is None:
        raise OidcProviderUnavailable(
            "node is not on PATH: the OpenID provider for the tests needs Node.js 20+"
        )
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        raise OidcProviderUnavailable(
            f"{PROVIDER_DIR / 'node_modules'} is missing: run `make test` once, "
            "or `npm ci --prefix tools/oidc-provider --no-audit --no-fund`"
        )
    secret = client_secret if client_secret is not None else secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "OIDC_PORT": "0",  # the provider picks a free port and prints its issuer
        "OIDC_CLIENT_ID": client_id,
        "OIDC_CLIENT_SECRET": secret,
        "OIDC_REDIRECT_URIS": ",".join(redirect_uris),
    }
    env.pop("OIDC_ISSUER", None)
    process = subprocess.Popen(
        [node, "server.mjs"],
        cwd=PROVIDER_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    output: deque[str] = deque(maxlen=200)
    ready: list[str] = []
    event = threading.Event()
    readers = [
        threading.Thread(target=_collect, args=(stream, output, ready, event), daemon=True)
        for stream in (process.stdout, process.stderr)
    ]
    for reader in readers:
        reader.start()

    deadline = time.monotonic() + timeout
    while not ready:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or process.poll() is not None:
            break
        event.wait(min(remaining, 0.1))
        event.clear()
    provider = OidcProvider(
        issuer=ready[0] if ready else "",
        client_id=client_id,
        client_secret=secret,
        redirect_uris=list(redirect_uris),
        process=process,
        output=output,
        readers=readers,
    )
    if not ready:
        provider.stop()
        log = "\n".join(output)
        raise OidcProviderUnavailable(
            f"the OpenID provider did not start within {timeout:.0f}s "
            f"(exit code {process.returncode}):\n{log}"
        )
    return provider


async def _walk_to_form(browser: httpx.AsyncClient, url: str, redirect_uri: str) -> httpx.Response | str:
    """Follow redirects by hand until a page to fill in, or a redirect to the client (its URL)."""
    response = await browser.get(url)
    for _ in range(10):
        if not response.is_redirect:
            response.raise_for_status()
            return response
        location = urljoin(str(response.url), response.headers["location"])
        if location.startswith(redirect_uri):
            return location
        response = await browser.get(location)
    raise AssertionError("too many redirects at the OpenID provider")


def _callback_params(location: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(location).query, keep_blank_values=True))


async def sign_in(
    authorization_url: str, redirect_uri: str, *, login: str, password: str = "x"
) -> dict[str, str]:
    """Log in at the provider's development form; return the callback's query parameters."""
    async with httpx.AsyncClient(timeout=10.0) as browser:
        step = await _walk_to_form(browser, authorization_url, redirect_uri)
        for _ in range(3):
            if isinstance(step, str):
                return _callback_params(step)
            page = step.text
            # The interaction URL is both the page and its form's action.
            if 'name="login"' in page:
                form = {"prompt": "login", "login": login, "password": password}
            elif 'value="consent"' in page:
                form = {"prompt": "consent"}
            else:
                raise AssertionError(f"unexpected page at the OpenID provider: {step.url}")
            response = await browser.post(str(step.url), data=form)
            if not response.is_redirect:
                raise AssertionError(f"the provider did not accept the form: HTTP {response.status_code}")
            step = await _walk_to_form(
                browser, urljoin(str(response.url), response.headers["location"]), redirect_uri
            )
    raise AssertionError("the OpenID provider kept asking for more")


async def cancel_sign_in(authorization_url: str, redirect_uri: str) -> dict[str, str]:
    """Press the login page's "[ Cancel ]" link; return the callback's query parameters."""
    async with httpx.AsyncClient(timeout=10.0) as browser:
        step = await _walk_to_form(browser, authorization_url, redirect_uri)
        assert isinstance(step, httpx.Response), "the provider skipped its login page"
        abort_url = str(step.url).rstrip("/") + "/abort"
        final = await _walk_to_form(browser, abort_url, redirect_uri)
        assert isinstance(final, str), "the provider did not redirect back after cancel"
        return _callback_params(final)
