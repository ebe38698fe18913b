"""The `distillguard` command line."""

from __future__ import annotations

import typer

cli = typer.Typer(no_args_is_help=True, add_completion=False, help="Detect distillation-extraction campaigns.")

# Each domain package registers its own commands here (one line each).


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
