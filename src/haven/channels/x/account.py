"""X channel accounts: their encrypted credentials and the clients made from them."""

from __future__ import annotations

from haven.channels.x.client import XClient, XCredentials
from haven.models import ChannelAccount
from haven.security.crypto import FieldCipher

_CONTEXT = "channel_account.credentials"


def seal_credentials(cipher: FieldCipher, credentials: XCredentials) -> str:
    return cipher.encrypt(credentials.model_dump_json(), context=_CONTEXT)


def open_credentials(cipher: FieldCipher, account: ChannelAccount) -> XCredentials:
    return XCredentials.model_validate_json(cipher.decrypt(account.credentials_encrypted, context=_CONTEXT))


class XClientPool:
    """One client (one connection pool) per channel account, made on first use."""

    def __init__(self, cipher: FieldCipher) -> None:
        self._cipher = cipher
        self._clients: dict[int, XClient] = {}

    def client_for(self, account: ChannelAccount) -> XClient:
        client = self._clients.get(account.id)
        if client is None:
            client = XClient(account.api_base_url, open_credentials(self._cipher, account))
            self._clients[account.id] = client
        return client

    def drain_usage(self) -> dict[int, dict[str, tuple[int, int]]]:
        """Each account's metered calls since the last drain (accounts with none left out)."""
        drained = {account_id: client.usage.drain() for account_id, client in self._clients.items()}
        return {account_id: counts for account_id, counts in drained.items() if counts}

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
