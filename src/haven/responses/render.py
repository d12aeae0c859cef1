"""Filling a template's ``{variables}``.

Deliberately not Jinja: a template is text an admin typed, and the only thing it may do is name one
of a fixed set of variables. ``{{`` and ``}}`` write literal braces, as in ``str.format``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping

#: The variables a template may use, and what each means.
VARIABLES: dict[str, str] = {
    "customer_name": "the customer's display name",
    "customer_handle": "the customer's @handle on the network",
    "agent_name": "the replying agent's display name",
    "brand": "the brand's name",
}
_FORMATTER = string.Formatter()
_NAME = re.compile(r"^[a-z_]+$")


class TemplateError(ValueError):
    """The template text is not valid; the message says why, for the admin who wrote it."""


def template_variables(body: str) -> list[str]:
    """The variables ``body`` uses; raises ``TemplateError`` on bad syntax or unknown names."""
    try:
        fields = [field for _, field, spec, conversion in _FORMATTER.parse(body) if field is not None]
        specs = [
            (spec, conversion) for _, field, spec, conversion in _FORMATTER.parse(body) if field is not None
        ]
    except ValueError as exc:
        raise TemplateError(f"unbalanced braces: {exc} (write {{{{ and }}}} for literal braces)") from None
    for name, (spec, conversion) in zip(fields, specs, strict=True):
        if not _NAME.match(name) or name not in VARIABLES:
            known = ", ".join(f"{{{known}}}" for known in VARIABLES)
            raise TemplateError(f"unknown variable {{{name}}}; templates may use {known}")
        if spec or conversion:
            raise TemplateError(f"{{{name}}} takes no format or conversion")
    return fields


def render_template(body: str, values: Mapping[str, str]) -> str:
    """Fill ``body``'s variables; a variable with no value becomes empty text."""
    template_variables(body)
    return body.format_map({name: values.get(name, "") for name in VARIABLES})
