"""The plan's call for ECS: a new revision of the task definition, with the role as task role."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tui.core import aws
from tui.core.errors import ErrorKind
from tui.core.iam.inventory import aws_cli, client_error_code
from tui.core.iam.provision.builder import PlanBuilder, refused
from tui.core.iam.provision.model import PlanError, Skipped, StepContext, StepReport


class EcsSteps(PlanBuilder):
    """Plans the task definition revision that carries the role."""

    def plan_task_definition(self, reference: str | None) -> None:
        if reference is None:
            self.notes.append(
                "no task definition was chosen: the role reaches a task only through a task "
                "definition revision whose task role it is"
            )
            return
        ecs = self.client("ecs")
        try:
            described = ecs.describe_task_definition(taskDefinition=reference, include=["TAGS"])
        except Exception as error:
            if client_error_code(error) in ("ClientException", "InvalidParameterException"):
                problem = aws.translate_error(error, "DescribeTaskDefinition")
                raise PlanError(
                    f"Nothing was changed: no task definition {reference} in {self.region}. "
                    f"{problem}",
                    kind=ErrorKind.USAGE,
                ) from None
            raise refused(error, "DescribeTaskDefinition") from None
        definition: Mapping[str, Any] = described["taskDefinition"]
        family, revision = str(definition["family"]), definition.get("revision")
        self.task_family = family
        label = f"{family}:{revision}"
        current_role = definition.get("taskRoleArn")
        if definition.get("status") == "INACTIVE":
            self.warnings.append(f"task definition {label} is INACTIVE (deregistered)")
        if current_role == self.role_arn:
            self.in_place.append(f"task definition {label} has task role {self.role_name}")
            return
        if current_role and not self.replace_existing:
            self.skipped.append(
                Skipped(
                    label,
                    f"its task role is {current_role}; a revision with {self.role_name} "
                    "instead needs confirmation",
                    needs_confirmation=True,
                )
            )
            return
        registerable = set(
            ecs.meta.service_model.operation_model("RegisterTaskDefinition").input_shape.members
        )
        request = {
            key: value
            for key, value in definition.items()
            if key in registerable and key not in ("tags", "taskRoleArn") and value is not None
        }
        request["taskRoleArn"] = self.role_arn
        tags = described.get("tags") or []
        if tags:
            request["tags"] = tags
        dropped = sorted(key for key in definition if key not in registerable)
        if dropped:
            self.notes.append(
                f"from {label}, everything registerable is kept; AWS sets these itself: "
                + ", ".join(dropped)
            )
        self._add_register(label, family, request, str(current_role or ""))

    def _add_register(
        self, label: str, family: str, request: dict[str, Any], old_role: str
    ) -> None:
        ecs = self.client("ecs")

        def run(context: StepContext) -> StepReport:
            answer = ecs.register_task_definition(**request)["taskDefinition"]
            new_label = f"{family}:{answer['revision']}"
            context.values["task_definition"] = new_label
            undo = aws_cli(
                "ecs deregister-task-definition", task_definition=new_label, region=self.region
            )
            return StepReport(
                f"registered {answer['taskDefinitionArn']} with task role {self.role_name}",
                (undo,),
            )

        replacing = f" instead of {old_role}" if old_role else ""
        self.add(
            "register-task-definition",
            f"Register a new revision of {label} with task role {self.role_name}{replacing}",
            aws_cli(
                "ecs register-task-definition",
                cli_input_json=json.dumps(request, default=str),
                region=self.region,
            ),
            run,
        )
