"""Canned responses: templates with variables and per-language variants, suggested by intent."""
