"""The plain-text summary of a Detection that ``pa-aws-setup detect`` prints."""

from __future__ import annotations

from tui.core.detect.model import Detection


def format_detection(detection: Detection) -> str:
    """A plain-text summary for ``pa-aws-setup detect``."""
    lines: list[str] = []

    def row(label: str, value: object) -> None:
        lines.append(f"  {label:<18} {value if value else 'unknown'}")

    ec2 = detection.ec2
    if ec2.detected:
        lines.append(f"EC2 instance metadata: found (IMDS{ec2.imds_version}) at {ec2.endpoint}")
        row("instance", ec2.instance_id)
        row("instance type", ec2.instance_type)
        row("region", ec2.region)
        row("availability zone", ec2.availability_zone)
        row("instance role", ec2.role_name or "none attached")
        row("instance profile", ec2.instance_profile_arn)
        row("account", ec2.account)
    else:
        lines.append(f"EC2 instance metadata: not detected: {ec2.error}")
    lines.extend(f"  note: {note}" for note in ec2.notes)

    ecs = detection.ecs
    if ecs.detected:
        lines.append("ECS task metadata: found")
        row("cluster", ecs.cluster)
        row("task", ecs.task_arn)
        row("family:revision", f"{ecs.family}:{ecs.revision}" if ecs.family else None)
        row("launch type", ecs.launch_type)
        row("availability zone", ecs.availability_zone)
        row("task role", ecs.role_arn or ("unknown" if ecs.has_task_credentials else "none"))
    else:
        lines.append(f"ECS task metadata: not detected: {ecs.error}")
    if ecs.detected and ecs.error:
        lines.append(f"  problem: {ecs.error}")
    lines.extend(f"  note: {note}" for note in ecs.notes)

    credentials = detection.credentials
    if credentials.sources:
        lines.append(
            f"Credentials: {', '.join(credentials.sources)} "
            f"(botocore would use {credentials.first} first; profile {credentials.profile})"
        )
    else:
        lines.append(f"Credentials: none found (profile {credentials.profile})")
    lines.extend(f"  note: {note}" for note in credentials.notes)

    identity = detection.identity
    if identity.arn:
        lines.append(f"Identity (STS): {identity.arn}")
        row("account", identity.account)
        row("credentials used", identity.source)
    else:
        lines.append(f"Identity (STS): {identity.error or 'unknown'}")

    method = detection.recommended_method
    lines.append(f"Recommended: {method.title} ({method}): {detection.recommendation_reason}")
    return "\n".join(lines) + "\n"
