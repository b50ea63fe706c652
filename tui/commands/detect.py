"""``pa-aws-setup detect``: where this runs, and the recommended method."""

from __future__ import annotations

import argparse

from tui.commands.output import CommandResult, run_command


def run_detect(options: argparse.Namespace) -> int:
    return run_command("detect", options, lambda: _detect(options))


def _detect(options: argparse.Namespace) -> CommandResult:
    from tui.core.detect import detect_environment, format_detection

    detection = detect_environment(timeout=options.timeout)
    if not options.json:
        print(format_detection(detection))
    return CommandResult(detection.to_json_dict())
