"""The 77 BANKING77 intents, their readable labels and the groups that routing and rules use.

Groups are coarse on purpose: a team's skill is "cards" or "security", not one of 77 intents.
The ``security`` group holds what may mean fraud or a compromised account; default priority rules
make it urgent.
"""

from __future__ import annotations

import enum


class IntentGroup(enum.StrEnum):
    SECURITY = "security"
    CARDS = "cards"
    PAYMENTS = "payments"
    TRANSFERS = "transfers"
    TOP_UPS = "top_ups"
    CASH = "cash"
    EXCHANGE = "exchange"
    ACCOUNT = "account"
    #: Posts that are no banking request (praise, chatter, spam).
    OTHER = "other"


_GROUPS: dict[IntentGroup, tuple[str, ...]] = {
    IntentGroup.SECURITY: (
        "compromised_card",
        "lost_or_stolen_card",
        "lost_or_stolen_phone",
        "card_payment_not_recognised",
        "direct_debit_payment_not_recognised",
        "cash_withdrawal_not_recognised",
    ),
    IntentGroup.CARDS: (
        "activate_my_card",
        "apple_pay_or_google_pay",
        "card_about_to_expire",
        "card_acceptance",
        "card_arrival",
        "card_delivery_estimate",
        "card_linking",
        "card_not_working",
        "card_swallowed",
        "change_pin",
        "contactless_not_working",
        "disposable_card_limits",
        "get_disposable_virtual_card",
        "get_physical_card",
        "getting_spare_card",
        "getting_virtual_card",
        "order_physical_card",
        "pin_blocked",
        "supported_cards_and_currencies",
        "virtual_card_not_working",
        "visa_or_mastercard",
    ),
    IntentGroup.PAYMENTS: (
        "card_payment_fee_charged",
        "declined_card_payment",
        "extra_charge_on_statement",
        "pending_card_payment",
        "Refund_not_showing_up",
        "request_refund",
        "reverted_card_payment?",
        "transaction_charged_twice",
    ),
    IntentGroup.TRANSFERS: (
        "balance_not_updated_after_bank_transfer",
        "beneficiary_not_allowed",
        "cancel_transfer",
        "declined_transfer",
        "failed_transfer",
        "pending_transfer",
        "receiving_money",
        "transfer_fee_charged",
        "transfer_into_account",
        "transfer_not_received_by_recipient",
        "transfer_timing",
    ),
    IntentGroup.TOP_UPS: (
        "automatic_top_up",
        "pending_top_up",
        "top_up_by_bank_transfer_charge",
        "top_up_by_card_charge",
        "top_up_by_cash_or_cheque",
        "top_up_failed",
        "top_up_limits",
        "top_up_reverted",
        "topping_up_by_card",
        "verify_top_up",
    ),
    IntentGroup.CASH: (
        "atm_support",
        "balance_not_updated_after_cheque_or_cash_deposit",
        "cash_withdrawal_charge",
        "declined_cash_withdrawal",
        "pending_cash_withdrawal",
        "wrong_amount_of_cash_received",
    ),
    IntentGroup.EXCHANGE: (
        "card_payment_wrong_exchange_rate",
        "exchange_charge",
        "exchange_rate",
        "exchange_via_app",
        "fiat_currency_support",
        "wrong_exchange_rate_for_cash_withdrawal",
    ),
    IntentGroup.ACCOUNT: (
        "age_limit",
        "country_support",
        "edit_personal_details",
        "passcode_forgotten",
        "terminate_account",
        "unable_to_verify_identity",
        "verify_my_identity",
        "verify_source_of_funds",
        "why_verify_identity",
    ),
}

#: Every intent the model knows, mapped to its group.
INTENT_GROUPS: dict[str, IntentGroup] = {
    intent: group for group, intents in _GROUPS.items() for intent in intents
}
INTENTS: tuple[str, ...] = tuple(sorted(INTENT_GROUPS))


def group_of(intent: str | None) -> IntentGroup:
    """The intent's group; out-of-scope posts (``None``) and unknown names are ``OTHER``."""
    if intent is None:
        return IntentGroup.OTHER
    return INTENT_GROUPS.get(intent, IntentGroup.OTHER)


def intent_label(intent: str | None) -> str:
    """A readable label: ``card_payment_not_recognised`` → "Card payment not recognised"."""
    if intent is None:
        return "Not a banking request"
    words = intent.replace("?", "").replace("_", " ").strip()
    return words[:1].upper() + words[1:].lower()
