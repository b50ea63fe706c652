"""Builds the wizard's services (real or --demo) and runs it."""

from __future__ import annotations

import argparse
import sys


def run_wizard(options: argparse.Namespace) -> int:
    from tui.app import WizardApp
    from tui.services import real_services

    sandbox_root = getattr(options, "sandbox", None)
    if options.demo or sandbox_root:
        return run_demo(options, sandbox_root)
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        print(
            "pa-aws-setup: the wizard needs a terminal; use a subcommand (see --help) for scripts.",
            file=sys.stderr,
        )
        return 2
    services = real_services(
        rdeck_base=options.rdeck_base, allow_insecure_keyring=options.allow_insecure_keyring
    )
    app = WizardApp(services)
    app.run()
    return app.return_code or 0


def run_demo(options: argparse.Namespace, sandbox_root: str | None) -> int:
    """The wizard in a sandbox: a fresh one, or (``--sandbox DIR``) one an earlier demo left."""
    from pathlib import Path

    from tui.app import WizardApp
    from tui.demo import DemoSandbox
    from tui.demo_reopen import SandboxError, exit_lines
    from tui.demo_services import demo_services

    if options.rdeck_base is not None:
        print(
            "pa-aws-setup: --demo makes its own Rundeck in a sandbox; --rdeck-base cannot be "
            "used with it. To reopen an earlier demo: pa-aws-setup --demo --sandbox DIR.",
            file=sys.stderr,
        )
        return 2
    try:
        sandbox = DemoSandbox(Path(sandbox_root), reopen=True) if sandbox_root else None
    except SandboxError as error:
        print(f"pa-aws-setup: {error}", file=sys.stderr)
        return 2
    services, sandbox = demo_services(sandbox)
    app = WizardApp(services)
    try:
        app.run()
        code = app.return_code
    finally:
        sandbox.stop()
    print("\n".join(exit_lines(sandbox.root, sandbox.rdeck_base)))
    return code or 0
