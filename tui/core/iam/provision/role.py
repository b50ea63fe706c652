"""The plan's IAM calls for the role itself: create it or let the service assume it, and its
inline permissions policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tui.core.iam.inventory import (
    aws_cli,
    client_error_code,
    compact_json,
    merged_trust,
    policy_document,
    trusts_service,
)
from tui.core.iam.provision.builder import PlanBuilder, refused
from tui.core.iam.provision.model import StepContext, StepFailed, StepReport

ROLE_DESCRIPTION = "AWS access for Rundeck (set up by pa-aws-setup)"


class RoleSteps(PlanBuilder):
    """Plans the role and its permissions policy."""

    def plan_role(self) -> None:
        iam = self.client("iam")
        try:
            role: Mapping[str, Any] | None = iam.get_role(RoleName=self.role_name)["Role"]
        except Exception as error:
            if client_error_code(error) != "NoSuchEntity":
                raise refused(error, "GetRole") from None
            role = None
        if role is None:
            self.role_arn = f"arn:{self.partition}:iam::{self.account}:role/{self.role_name}"
            self._add_create_role()
            self._add_put_policy(previous=None)
            return
        self.role_arn = str(role["Arn"])
        existing_trust = role.get("AssumeRolePolicyDocument")
        if trusts_service(existing_trust, self.service):
            self.in_place.append(f"role {self.role_name} ({self.role_arn}) trusts {self.service}")
        else:
            self.in_place.append(f"role {self.role_name} ({self.role_arn}) exists")
            self._add_update_trust(policy_document(existing_trust))
        try:
            previous = policy_document(
                iam.get_role_policy(RoleName=self.role_name, PolicyName=self.policy_name)[
                    "PolicyDocument"
                ]
            )
        except Exception as error:
            if client_error_code(error) != "NoSuchEntity":
                raise refused(error, "GetRolePolicy") from None
            previous = None
        if previous == dict(self.permissions_policy):
            self.in_place.append(
                f"inline policy {self.policy_name} on {self.role_name} is already this one"
            )
        else:
            self._add_put_policy(previous=previous)

    def _add_create_role(self) -> None:
        iam = self.client("iam")
        trust = compact_json(self.trust_policy)
        name = self.role_name

        def run(context: StepContext) -> StepReport:
            try:
                answer = iam.create_role(
                    RoleName=name, AssumeRolePolicyDocument=trust, Description=ROLE_DESCRIPTION
                )
            except Exception as error:
                if client_error_code(error) != "EntityAlreadyExists":
                    raise
                role = iam.get_role(RoleName=name)["Role"]
                if not trusts_service(role.get("AssumeRolePolicyDocument"), self.service):
                    raise StepFailed(
                        f"Role {name} was created by someone else meanwhile and does not trust "
                        f"{self.service}; it was left as it is. Run the setup again to plan "
                        "with it."
                    ) from None
                return StepReport(f"role {name} already existed (created meanwhile): reused")
            return StepReport(
                f"created role {answer['Role']['Arn']}",
                undo=(aws_cli("iam delete-role", role_name=name),),
            )

        self.add(
            "create-role",
            f"Create role {name}, which {self.service} may assume",
            aws_cli(
                "iam create-role",
                role_name=name,
                description=ROLE_DESCRIPTION,
                assume_role_policy_document=trust,
            ),
            run,
        )

    def _add_update_trust(self, existing: dict[str, Any]) -> None:
        iam = self.client("iam")
        merged = compact_json(merged_trust(existing, self.trust_policy))
        name = self.role_name
        self.warnings.append(
            f"role {name} exists but {self.service} may not assume it: its trust policy gets "
            "one statement added (the others are kept)"
        )

        def run(context: StepContext) -> StepReport:
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=merged)
            undo = aws_cli(
                "iam update-assume-role-policy",
                role_name=name,
                policy_document=compact_json(existing),
            )
            return StepReport(f"{self.service} may now assume {name}", (undo,))

        self.add(
            "update-trust",
            f"Let {self.service} assume the existing role {name}",
            aws_cli("iam update-assume-role-policy", role_name=name, policy_document=merged),
            run,
        )

    def _add_put_policy(self, previous: dict[str, Any] | None) -> None:
        iam = self.client("iam")
        document = compact_json(self.permissions_policy)
        name, policy = self.role_name, self.policy_name

        def run(context: StepContext) -> StepReport:
            iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=document)
            if previous is None:
                undo = aws_cli("iam delete-role-policy", role_name=name, policy_name=policy)
            else:
                undo = aws_cli(
                    "iam put-role-policy",
                    role_name=name,
                    policy_name=policy,
                    policy_document=compact_json(previous),
                )
            return StepReport(f"inline policy {policy} is on role {name}", (undo,))

        verb = "Replace" if previous is not None else "Put"
        self.add(
            "put-role-policy",
            f"{verb} the permissions policy {policy} on role {name}",
            aws_cli(
                "iam put-role-policy", role_name=name, policy_name=policy, policy_document=document
            ),
            run,
        )
