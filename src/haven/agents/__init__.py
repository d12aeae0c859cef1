"""Agents, teams and roles."""
