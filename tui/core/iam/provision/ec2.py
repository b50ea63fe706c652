"""The plan's calls for EC2: the instance profile holding the role, and giving it to instances
(associating it, or replacing another one once the admin has confirmed)."""

from __future__ import annotations

from collections.abc import Sequence

from tui.core import aws
from tui.core.errors import ErrorKind
from tui.core.iam.inventory import associations, aws_cli, client_error_code
from tui.core.iam.provision.builder import PlanBuilder, refused
from tui.core.iam.provision.model import (
    PlanError,
    Skipped,
    StepContext,
    StepFailed,
    StepReport,
)
from tui.core.iam.provision.running import while_propagating

UNUSABLE_INSTANCE_STATES = frozenset({"shutting-down", "terminated"})


class Ec2Steps(PlanBuilder):
    """Plans the instance profile and its associations with the chosen instances."""

    def plan_instance_profile(self) -> str:
        """Steps for the instance profile holding the role; returns the profile's ARN."""
        iam = self.client("iam")
        profile = self.profile_name
        try:
            existing = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]
        except Exception as error:
            if client_error_code(error) != "NoSuchEntity":
                raise refused(error, "GetInstanceProfile") from None
            existing = None
        if existing is None:
            self._add_create_profile()
            self._add_role_to_profile()
            return f"arn:{self.partition}:iam::{self.account}:instance-profile/{profile}"
        roles = [str(role.get("RoleName")) for role in existing.get("Roles") or ()]
        if self.role_name in roles:
            self.in_place.append(f"instance profile {profile} holds role {self.role_name}")
        elif roles:
            raise PlanError(
                f"Nothing was changed: instance profile {profile} already holds role "
                f"{roles[0]}, and an instance profile holds one role. Choose another "
                "instance profile name, or the role it holds."
            )
        else:
            self.in_place.append(f"instance profile {profile} exists (empty)")
            self._add_role_to_profile()
        return str(existing["Arn"])

    def _add_create_profile(self) -> None:
        iam = self.client("iam")
        profile = self.profile_name

        def run(context: StepContext) -> StepReport:
            try:
                iam.create_instance_profile(InstanceProfileName=profile)
            except Exception as error:
                if client_error_code(error) != "EntityAlreadyExists":
                    raise
                return StepReport(f"instance profile {profile} already existed: reused")
            undo = aws_cli("iam delete-instance-profile", instance_profile_name=profile)
            return StepReport(f"created instance profile {profile}", (undo,))

        self.add(
            "create-instance-profile",
            f"Create instance profile {profile}",
            aws_cli("iam create-instance-profile", instance_profile_name=profile),
            run,
        )

    def _add_role_to_profile(self) -> None:
        iam = self.client("iam")
        profile, name = self.profile_name, self.role_name

        def run(context: StepContext) -> StepReport:
            try:
                iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=name)
            except Exception as error:
                if client_error_code(error) not in ("LimitExceeded", "EntityAlreadyExists"):
                    raise
                held = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]
                roles = [str(role.get("RoleName")) for role in held.get("Roles") or ()]
                if name not in roles:
                    raise StepFailed(
                        f"Instance profile {profile} holds role {', '.join(roles)} and can hold "
                        "only one."
                    ) from None
                return StepReport(f"instance profile {profile} already held role {name}")
            undo = aws_cli(
                "iam remove-role-from-instance-profile",
                instance_profile_name=profile,
                role_name=name,
            )
            return StepReport(f"instance profile {profile} holds role {name}", (undo,))

        self.add(
            "add-role-to-instance-profile",
            f"Put role {name} in instance profile {profile}",
            aws_cli(
                "iam add-role-to-instance-profile", instance_profile_name=profile, role_name=name
            ),
            run,
        )

    def plan_associations(self, instance_ids: Sequence[str], profile_arn: str) -> None:
        self.instance_ids = tuple(instance_ids)
        if not instance_ids:
            self.notes.append(
                "no instance was chosen: the role reaches an instance only once its instance "
                "profile is associated with it"
            )
            return
        ec2 = self.client("ec2")
        try:
            reservations = ec2.describe_instances(InstanceIds=list(instance_ids))["Reservations"]
        except Exception as error:
            if str(client_error_code(error)).startswith("InvalidInstanceID"):
                problem = aws.translate_error(error, "DescribeInstances")
                raise PlanError(
                    f"Nothing was changed: no such instance in {self.region}. {problem}",
                    kind=ErrorKind.USAGE,
                ) from None
            raise refused(error, "DescribeInstances") from None
        states = {
            str(instance["InstanceId"]): str(instance.get("State", {}).get("Name", ""))
            for reservation in reservations
            for instance in reservation.get("Instances") or ()
        }
        gone = [
            f"{iid} ({states[iid]})"
            for iid in instance_ids
            if states.get(iid) in UNUSABLE_INSTANCE_STATES
        ]
        missing = [iid for iid in instance_ids if iid not in states]
        if gone or missing:
            raise PlanError(
                "Nothing was changed: these instances cannot take an instance profile: "
                + ", ".join(gone + [f"{iid} (not found)" for iid in missing])
                + ".",
                kind=ErrorKind.USAGE,
            )
        current = associations(ec2, instance_ids)
        for iid in instance_ids:
            association = current.get(iid)
            if association is None:
                self._add_associate(iid)
                continue
            arn = str(association.get("IamInstanceProfile", {}).get("Arn", ""))
            if arn == profile_arn:
                self.in_place.append(f"instance {iid} uses instance profile {self.profile_name}")
            elif self.replace_existing:
                self._add_replace(iid, str(association["AssociationId"]), arn)
            else:
                self.skipped.append(
                    Skipped(
                        iid,
                        f"it has instance profile {arn}; replacing it needs confirmation",
                        needs_confirmation=True,
                    )
                )

    def _add_associate(self, instance_id: str) -> None:
        ec2 = self.client("ec2")
        profile = self.profile_name

        def run(context: StepContext) -> StepReport:
            answer = while_propagating(
                context,
                lambda: ec2.associate_iam_instance_profile(
                    IamInstanceProfile={"Name": profile}, InstanceId=instance_id
                ),
            )
            association = answer["IamInstanceProfileAssociation"]
            association_id = str(association["AssociationId"])
            undo = aws_cli(
                "ec2 disassociate-iam-instance-profile",
                association_id=association_id,
                region=self.region,
            )
            return StepReport(
                f"instance {instance_id} now has instance profile {profile} "
                f"({association_id}, {association.get('State', '?')})",
                (undo,),
            )

        self.add(
            f"associate:{instance_id}",
            f"Give instance {instance_id} the instance profile {profile}",
            aws_cli(
                "ec2 associate-iam-instance-profile",
                instance_id=instance_id,
                iam_instance_profile=f"Name={profile}",
                region=self.region,
            ),
            run,
        )

    def _add_replace(self, instance_id: str, association_id: str, old_arn: str) -> None:
        ec2 = self.client("ec2")
        profile = self.profile_name

        def run(context: StepContext) -> StepReport:
            answer = while_propagating(
                context,
                lambda: ec2.replace_iam_instance_profile_association(
                    IamInstanceProfile={"Name": profile}, AssociationId=association_id
                ),
            )
            new_id = str(answer["IamInstanceProfileAssociation"]["AssociationId"])
            undo = aws_cli(
                "ec2 replace-iam-instance-profile-association",
                association_id=new_id,
                iam_instance_profile=f"Arn={old_arn}",
                region=self.region,
            )
            return StepReport(
                f"instance {instance_id} now has instance profile {profile} instead of "
                f"{old_arn} ({new_id})",
                (undo,),
            )

        self.add(
            f"replace:{instance_id}",
            f"Replace instance {instance_id}'s instance profile ({old_arn}) with {profile}",
            aws_cli(
                "ec2 replace-iam-instance-profile-association",
                association_id=association_id,
                iam_instance_profile=f"Name={profile}",
                region=self.region,
            ),
            run,
        )
