"""The state a setup's plan is built in: the answers, the clients, and the steps so far."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tui.core import aws
from tui.core.aws import ClientFactory
from tui.core.iam.inventory import TRUSTED_SERVICE
from tui.core.iam.provision.model import (
    PlanError,
    ProvisionMethod,
    ProvisionStep,
    Skipped,
    StepContext,
    StepReport,
)


def refused(error: Exception, action: str) -> PlanError:
    """A read AWS refused while planning, said as a PlanError."""
    problem = aws.translate_error(error, action)
    return PlanError(f"Nothing was changed: {problem}")


class PlanBuilder:
    """Reads what exists and builds the steps; holds the clients the steps will use."""

    def __init__(
        self,
        method: ProvisionMethod,
        role_name: str,
        *,
        trust_policy: Mapping[str, Any],
        permissions_policy: Mapping[str, Any],
        region: str,
        policy_name: str,
        profile_name: str,
        replace_existing: bool,
        factory: ClientFactory,
    ) -> None:
        self.method = method
        self.role_name = role_name
        self.trust_policy = trust_policy
        self.permissions_policy = permissions_policy
        self.region = region
        self.policy_name = policy_name
        self.profile_name = profile_name
        self.replace_existing = replace_existing
        self.factory = factory
        self.service = TRUSTED_SERVICE[method]
        self._clients: dict[str, Any] = {}
        self.steps: list[ProvisionStep] = []
        self.in_place: list[str] = []
        self.skipped: list[Skipped] = []
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self.instance_ids: tuple[str, ...] = ()
        self.task_family: str | None = None
        self.account = ""
        self.partition = "aws"
        self.role_arn = ""

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.factory(service, region=self.region)
        return self._clients[service]

    def add(
        self, key: str, description: str, command: str, run: Callable[[StepContext], StepReport]
    ) -> None:
        self.steps.append(ProvisionStep(key, description, command, run))

    def identify(self) -> None:
        try:
            answer = self.client("sts").get_caller_identity()
        except Exception as error:
            raise refused(error, "GetCallerIdentity") from None
        self.account = str(answer.get("Account", ""))
        self.partition = str(answer.get("Arn", "arn:aws:")).split(":")[1] or "aws"
