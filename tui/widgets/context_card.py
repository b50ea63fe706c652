"""The context card: what detection found (instance, task, role, account, region) or why not."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

if TYPE_CHECKING:
    from tui.core.detect import Detection


def _value(value: object) -> Text:
    return Text(str(value)) if value else Text("unknown", style="dim")


class ContextCard(Static):
    """A compact two-column summary of a Detection, with the diagnosis when nothing was found."""

    DEFAULT_CSS = """
    ContextCard { border: round $primary; padding: 0 1; height: auto; }
    """

    def show_detection(self, detection: Detection) -> None:
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        ec2, ecs = detection.ec2, detection.ecs
        if ec2.detected:
            version = f" (IMDS{ec2.imds_version})" if ec2.imds_version else ""
            table.add_row("EC2", Text(f"instance found{version}", style="green"))
            table.add_row("  instance", _value(ec2.instance_id))
            table.add_row("  role", _value(ec2.role_name))
            table.add_row("  profile", _value(ec2.instance_profile_arn))
            table.add_row("  region", _value(ec2.region))
            table.add_row("  account", _value(ec2.account or detection.identity.account))
        else:
            table.add_row(
                "EC2", Text(f"not detected: {ec2.error or 'no metadata'}", style="yellow")
            )
        if ecs.detected:
            table.add_row("ECS", Text("task found", style="green"))
            table.add_row("  cluster", _value(ecs.cluster))
            table.add_row("  task", _value(ecs.task_arn))
            table.add_row("  task role", _value(ecs.role_arn))
        else:
            table.add_row(
                "ECS", Text(f"not detected: {ecs.error or 'no metadata'}", style="yellow")
            )
        sources = ", ".join(detection.credentials.sources) or "none"
        table.add_row("Credentials", Text(sources))
        identity = detection.identity
        if identity.arn:
            table.add_row("Identity", Text(f"{identity.arn}"))
        else:
            table.add_row("Identity", Text(identity.error or "unknown", style="dim"))
        self.update(table)
