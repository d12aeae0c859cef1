"""Private data a customer exposed in a public post: card numbers, IBANs, bank accounts, SSNs, phone
numbers and e-mail addresses (:mod:`.detect`), and masking them for agents (:mod:`.mask`).

Nothing is imported here, so that :mod:`haven.handoff.cards` can use :mod:`.cards` without loading
the phone-number metadata.
"""
