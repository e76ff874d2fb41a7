"""The ``rnnt`` console script: ``rnnt <app> <verb> [options]``.

Apps are found through the ``rnn_templates.apps`` entry-point group, so the
library never imports an app: each app's ``register(subparsers)`` adds its
own verbs. A :class:`~rnn_templates.errors.UserInputError` raised anywhere
becomes one line on stderr and exit status 2, with no traceback.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

from rnn_templates.config import describe_config
from rnn_templates.errors import UserInputError

APP_GROUP = "rnn_templates.apps"
VERBS = ("train", "tune", "evaluate", "predict", "export")


class _HelpConfig(argparse.Action):
    """``--help-config``: print every config key with its type and default."""

    def __init__(self, option_strings, dest, config_class=None, **kwargs):
        self.config_class = config_class
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(describe_config(self.config_class))
        parser.exit(0)


def add_config_options(parser: argparse.ArgumentParser, config_class: type) -> None:
    """``--config FILE``, repeatable ``--set key=value`` and ``--help-config``."""
    parser.add_argument("--config", metavar="FILE", help="YAML file of config overrides")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key (repeatable), e.g. --set units=128",
    )
    parser.add_argument(
        "--help-config",
        action=_HelpConfig,
        config_class=config_class,
        help="list every config key with its type and default, then exit",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnt",
        description="Recurrent-network application templates: train, tune, evaluate, "
        "predict and export per app.",
    )
    apps = parser.add_subparsers(dest="app", metavar="<app>", required=True)
    found = sorted(entry_points(group=APP_GROUP), key=lambda ep: ep.name)
    for entry_point in found:
        entry_point.load()(apps)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UserInputError as error:
        print(f"rnnt {args.app}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
