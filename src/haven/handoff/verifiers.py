"""The parts that verify customers, built once from settings: directory, code sender, OpenID client."""

from __future__ import annotations

from dataclasses import dataclass

from haven.config import Settings
from haven.handoff.directory import CustomerDirectory, JsonFileDirectory
from haven.handoff.oidc import OidcConfig, OidcVerifier
from haven.handoff.senders import CodeSender, DemoPhone, HttpCodeSender


@dataclass(slots=True)
class Verifiers:
    directory: CustomerDirectory | None
    sender: CodeSender
    #: Set when codes go to the demo phone page instead of a real gateway.
    demo_phone: DemoPhone | None
    oidc: OidcVerifier | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Verifiers:
        directory = JsonFileDirectory.load(settings.directory_file) if settings.directory_file else None
        demo_phone: DemoPhone | None = None
        sender: CodeSender
        if settings.code_sender == "http":
            assert settings.code_sender_url and settings.code_sender_token
            sender = HttpCodeSender(settings.code_sender_url, settings.code_sender_token.get_secret_value())
        else:
            sender = demo_phone = DemoPhone()
        oidc = None
        if settings.oidc_issuer:
            assert settings.oidc_client_id and settings.oidc_client_secret
            oidc = OidcVerifier(
                OidcConfig(
                    issuer=settings.oidc_issuer,
                    client_id=settings.oidc_client_id,
                    client_secret=settings.oidc_client_secret.get_secret_value(),
                )
            )
        return cls(directory=directory, sender=sender, demo_phone=demo_phone, oidc=oidc)

    @property
    def offers_code(self) -> bool:
        return self.directory is not None

    async def aclose(self) -> None:
        if isinstance(self.sender, HttpCodeSender):
            await self.sender.aclose()
        if self.oidc is not None:
            await self.oidc.aclose()
