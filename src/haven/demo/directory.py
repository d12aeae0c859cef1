"""The demo bank's customer directory: the simulated customers, linked to their xsim accounts.

Written to ``var/demo-directory.json`` before Haven starts, so one-time codes for the demo
customers go to made-up numbers (in the UK's range for drama, +44 7700 900xxx) that arrive on the
demo phone page. One more customer, with no X account linked, shows the path where the customer
types the phone number the bank holds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx

from haven.demo.scenario import CUSTOMERS

#: A bank customer whose X account the bank does not know: they type this number to get a code.
UNLINKED_CUSTOMER = {
    "customer_id": "C-2000",
    "name": "Dana Demo",
    "phone": "+447700900199",
    "email": "dana@example.com",
    "oidc_subject": "dana",
}


def _phone(n: int) -> str:
    return f"+4477009001{n:02d}"


async def _xsim_user_id(http: httpx.AsyncClient, username: str, name: str) -> str:
    response = await http.post("/_sim/users", json={"username": username, "name": name})
    if response.status_code == 409:
        response = await http.get(f"/_sim/users/{username}")
    response.raise_for_status()
    return str(response.json()["id"])


async def write_demo_directory(xsim_url: str, path: Path) -> Path:
    """Make sure the demo customers exist on xsim and write the directory that links them."""
    customers: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=xsim_url, timeout=10) as http:
        for n, (username, name) in enumerate(CUSTOMERS):
            customers.append(
                {
                    "customer_id": f"C-{1000 + n}",
                    "name": name,
                    "phone": _phone(n),
                    "email": f"{username}@example.com",
                    "x_user_id": await _xsim_user_id(http, username, name),
                    "oidc_subject": username,
                }
            )
    customers.append(UNLINKED_CUSTOMER)
    _save(path, {"default_region": "GB", "customers": customers})
    return path


def _save(path: Path, directory: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(directory, indent=2))
    os.chmod(path, 0o600)
