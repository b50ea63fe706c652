"""``pa-aws-setup detect``: where this runs, and the recommended method."""

from __future__ import annotations

import argparse

from tui.cli import EXIT_OK
from tui.commands.output import emit_json


def run_detect(options: argparse.Namespace) -> int:
    from tui.core.detect import detect_environment, format_detection

    detection = detect_environment(timeout=options.timeout)
    if options.json:
        emit_json("detect", detection.to_json_dict(), EXIT_OK)
    else:
        print(format_detection(detection))
    return EXIT_OK
