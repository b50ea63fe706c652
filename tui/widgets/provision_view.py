"""What Set it up for me draws besides its form: an instance's row, the plan's summary, the
AWS CLI script coloured, how a run ended, and the script to copy afterwards."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.text import Text

from tui.widgets.grid import aligned_grid

if TYPE_CHECKING:
    from tui.core.iam.inventory import InstanceChoice
    from tui.core.iam.provision import ProvisionPlan, ProvisionResult, Skipped


def short_profile(arn: str) -> str:
    """``arn:aws:iam::1:instance-profile/path/legacy`` → ``legacy``: rows stay one line."""
    return arn.rsplit("/", 1)[-1]


def instance_row(choice: InstanceChoice, current: str | None) -> Text:
    """Id, name, state unless running, and what it has; each blank ends a run, never starts one
    (SVG renderers drop the blanks that start a text run)."""
    parts = [(choice.instance_id, ""), (choice.name or "(no name)", "dim")]
    if choice.state != "running":
        parts.append((choice.state, "yellow"))
    if choice.instance_id == current:
        parts.append(("this instance", "bold cyan"))
    if choice.instance_profile_arn:
        parts.append((f"has {short_profile(choice.instance_profile_arn)}", "yellow"))
    row = Text()
    for index, (words, style) in enumerate(parts):
        row.append(words + ("  " if index < len(parts) - 1 else ""), style=style)
    return row


def left_alone(item: Skipped) -> str:
    """What the plan leaves alone; the plan words the consent for the command line, here it
    is the Replace checkbox."""
    return f"{item.target}: {item.describe(consent='tick Replace above')}"


def plan_summary(plan: ProvisionPlan) -> Text:
    """How many calls, and what is left alone or worth a warning, above the commands."""
    text = Text()
    count = len(plan.steps)
    if count:
        calls = "1 AWS call" if count == 1 else f"{count} AWS calls"
        text.append(f"{calls} to make ", style="bold")
        text.append(f"in account {plan.account}, {plan.region}. Run them with Run, or copy them.")
    else:
        text.append("✓ Nothing to do: everything is in place already.", style="bold green")
    for item in plan.skipped:
        text.append(f"\nLeft alone: {left_alone(item)}", style="yellow")
    for warning in plan.warnings:
        text.append(f"\n⚠ {warning}", style="yellow")
    return text


def bash(script: str) -> Text:
    """The commands coloured by hand: comments dim, options and quoted documents picked out.

    A Pygments theme paints its own background behind some tokens, which shows as dark
    patches on the panel; these styles take the terminal's colours, light or dark.
    """
    text = Text()
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("#"):
            text.append(line, style="dim")
            continue
        command = Text(line)
        command.highlight_regex(r"^aws [a-z0-9-]+ [a-z0-9-]+", "bold")
        command.highlight_regex(r"(?<= )--[a-z0-9-]+", "cyan")
        command.highlight_regex(r"'[^']*'", "yellow")
        text.append_text(command)
    return text


def listed(title: str, lines: tuple[str, ...]) -> list[RenderableType]:
    """A bold title, then one row per line: commands after a dim $, in cyan; the rest after •."""
    if not lines:
        return []
    rows = aligned_grid(labels=1)
    for line in lines:
        if line.startswith("aws "):
            rows.add_row(Text("$", style="dim"), "", Text(line, style="cyan"))
        else:
            rows.add_row(Text("•", style="dim"), "", line)
    return [Text(title, style="bold"), rows]


def describe_result(result: ProvisionResult, plan: ProvisionPlan | None) -> RenderableType:
    """How the run ended, what exists in AWS (read back after a failure), and what is next.

    After a success the steps above already say what was made; only what the plan found in
    place or left alone is added, so nothing is said twice.
    """
    parts: list[RenderableType] = [Text()]  # a line apart from the steps
    if result.ok:
        parts.append(Text("✓ Done.", style="bold green"))
        if plan is not None:
            parts += listed("In place already:", plan.in_place)
            parts += listed("Left alone:", tuple(left_alone(item) for item in plan.skipped))
    else:
        # The failed call's line above says why; the calls after it were not made.
        parts.append(Text("✗ Stopped at the failed call (✗ above).", style="bold red"))
        parts += listed("What exists in AWS now:", result.exists_now)
        if result.survey_error:
            parts.append(Text(result.survey_error, style="yellow"))
        parts += listed("Not done:", result.not_done)
        parts += listed(
            "To undo it (not needed to retry: a new preview reuses what exists):",
            result.undo_commands,
        )
    parts += listed("Next:", result.follow_up)
    return Group(*parts)


def after_script(result: ProvisionResult) -> str:
    """The run's follow-up as a shell script, with the undo commands commented out."""
    lines = ["# pa-aws-setup: after setting up the role"]
    for line in result.follow_up:
        lines.append(line if line.startswith("aws ") else f"# {line}")
    if result.undo_commands and not result.ok:
        lines.append("# To undo what was done (newest first), remove the leading '# ':")
        lines += [f"# {command}" for command in result.undo_commands]
    return "\n".join(lines) + "\n"
