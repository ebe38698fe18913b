"""The `distillguard` command line."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.orm import Session, sessionmaker

from app import migrate
from app.auth import service as keys_service
from app.config import get_settings
from app.db import make_engine, session_factory
from app.ingest import cli as ingest_cli

cli = typer.Typer(no_args_is_help=True, add_completion=False, help="Detect distillation-extraction campaigns.")
keys_cli = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")
db_cli = typer.Typer(no_args_is_help=True, help="Database schema.")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(db_cli, name="db")


def _migrated_sessionmaker() -> sessionmaker[Session]:
    settings = get_settings()
    migrate.upgrade(settings.database_url)
    return session_factory(make_engine(settings.database_url))


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Run the HTTP API (applies migrations first unless DISTILLGUARD_AUTO_MIGRATE=false)."""
    import uvicorn

    settings = get_settings()
    if settings.auto_migrate:
        migrate.upgrade(settings.database_url)
    uvicorn.run(
        "app.main:create_app", factory=True, host=host, port=port, workers=workers, log_config=None,
        access_log=False,
    )  # fmt: skip


@keys_cli.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="ingest, analyst or admin")],
    name: Annotated[str, typer.Option(help="who or what uses the key")],
) -> None:
    """Create a key; the raw key is printed once, as the last line."""
    with _migrated_sessionmaker().begin() as session:
        key, raw = keys_service.create_key(session=session, role=role, name=name)
        typer.echo(f"created key {key.id} ({key.role}) for {key.name!r}; store it now, it is not shown again:")
    typer.echo(raw)


@keys_cli.command("list")
def keys_list() -> None:
    with _migrated_sessionmaker().begin() as session:
        for key in keys_service.list_keys(session=session):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            typer.echo(f"{key.id}\t{key.role}\t{key.prefix}…\t{key.name}\t{state}")


@keys_cli.command("revoke")
def keys_revoke(key_id: int) -> None:
    with _migrated_sessionmaker().begin() as session:
        key = keys_service.revoke_key(session=session, key_id=key_id)
        typer.echo(f"revoked key {key.id} ({key.name})")


@db_cli.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    migrate.upgrade(get_settings().database_url, revision)
    typer.echo(f"database at {revision}")


# Each domain package registers its own commands here (one line each).
ingest_cli.register(cli)
from app.demo import register as register_demo  # noqa: E402
from app.evaluation.cli import register as register_evaluation  # noqa: E402
from app.scoring.cli import register as register_scoring  # noqa: E402
from app.simulation.cli import register as register_simulation  # noqa: E402

register_evaluation(cli)
register_simulation(cli)
register_scoring(cli)
register_demo(cli)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
