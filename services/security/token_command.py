"""``predis tokens``: make, list and revoke API tokens in the tokens file the services read.

Each change is written to the audit log beside the services' (``tokens.jsonl``), naming the
operating-system user who ran it; the token itself is printed once and never written anywhere.
"""

from __future__ import annotations

import argparse
import datetime
import getpass
import json
import os
import sys
from pathlib import Path

from predis.services.runtime.errors import InvalidInput
from predis.services.runtime.settings import SettingsError
from predis.services.security.audit import AuditLog
from predis.services.security.principal import Role
from predis.services.security.settings import AuthSettings
from predis.services.security.tokens import TokenError, TokenFile, TokenRecord


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    tokens = commands.add_parser("tokens", help="make, list and revoke API tokens (PREDIS_AUTH=required)")
    tokens.add_argument(
        "--file", type=Path, help="the tokens file (default PREDIS_TOKENS_FILE or $PREDIS_DATA_DIR/auth/tokens.json)"
    )
    actions = tokens.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make a token for TENANT and print it, once")
    create.add_argument("tenant")
    create.add_argument("--admin", action="store_true", help="an admin token: model operations, every tenant")
    create.add_argument("--note", default="", help="what the token is for (shown by list)")
    revoke = actions.add_parser("revoke", help="revoke a token by its id (services refuse it within a second)")
    revoke.add_argument("id")
    listing = actions.add_parser("list", help="every token's id, tenant, role and state (never the secret)")
    listing.add_argument("--json", action="store_true")
    tokens.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        auth = AuthSettings.from_env("tokens", os.environ)
        path = args.file or auth.tokens_file
        if path is None:
            raise SettingsError("say where the tokens file is: --file, PREDIS_TOKENS_FILE or PREDIS_DATA_DIR")
        store = TokenFile(path)
        audit = AuditLog("tokens", auth.audit)
        try:
            return _act(args, store, audit)
        finally:
            audit.close()
    except (SettingsError, TokenError, InvalidInput) as error:
        print(f"predis tokens: {error}", file=sys.stderr)
        return 2


def _act(args: argparse.Namespace, store: TokenFile, audit: AuditLog) -> int:
    by = f"by {getpass.getuser()} on this machine"
    if args.action == "create":
        role = Role.ADMIN if args.admin else Role.TENANT
        token, record = store.create(args.tenant, role, args.note)
        audit.record(
            "tokens.create", "OK", peer="local", tenant=record.tenant, detail=f"{record.id} ({role.value}) {by}"
        )
        print(token)
        print(
            f"token {record.id} for tenant {record.tenant!r} ({role.value}); it is shown only now: keep it in "
            "a secret store. Clients send it as PREDIS_TOKEN / ClientConfig(token=...) or with AUTH on RESP.",
            file=sys.stderr,
        )
        return 0
    if args.action == "revoke":
        record = store.revoke(args.id)
        audit.record("tokens.revoke", "OK", peer="local", tenant=record.tenant, detail=f"{record.id} {by}")
        print(f"revoked token {record.id} of tenant {record.tenant!r}")
        return 0
    records = store.records()
    if args.json:
        print(json.dumps([_public(r) for r in records], indent=1))
        return 0
    print(f"{'id':14s} {'tenant':24s} {'role':7s} {'created (UTC)':20s} state")
    for r in records:
        state = "live" if r.live else f"revoked {_when(r.revoked_unix)}"
        print(f"{r.id:14s} {r.tenant:24s} {r.role:7s} {_when(r.created_unix):20s} {state}  {r.note}".rstrip())
    return 0


def _public(record: TokenRecord) -> dict[str, object]:
    return {
        "id": record.id,
        "tenant": record.tenant,
        "role": record.role,
        "created_unix": record.created_unix,
        "revoked_unix": record.revoked_unix,
        "note": record.note,
    }


def _when(unix: float | None) -> str:
    if unix is None:
        return ""
    return datetime.datetime.fromtimestamp(unix, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
