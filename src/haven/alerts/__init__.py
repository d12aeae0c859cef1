"""Alerts that supervisors must see: raised by workers, shown as a console banner, resolved by a person."""
