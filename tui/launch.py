"""Builds the wizard's services (real or --demo) and runs it."""

from __future__ import annotations

import argparse
import sys


def run_wizard(options: argparse.Namespace) -> int:
    from tui.app import WizardApp
    from tui.services import real_services

    if options.demo:
        from tui.demo_services import demo_services

        services, sandbox = demo_services()
        app = WizardApp(services)
        try:
            app.run()
            code = app.return_code
        finally:
            sandbox.stop()
        print(f"DEMO sandbox kept for you to look at: {sandbox.root}")
        print(f"  Rundeck base: {sandbox.rdeck_base}")
        print("  (the demo keyring lived in memory and is gone)")
        return code or 0
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
