"""The region of this machine: one field of the detection result, one region pattern."""

from __future__ import annotations

import dataclasses

from tests import scenes
from tui.core.detect.model import (
    EcsProbe,
    configured_region,
    region_of_arn,
    region_of_zone,
)
from tui.core.model import Method

TASK_ARN = "arn:aws:ecs:ap-southeast-2:123456789012:task/ops/0123456789abcdef"


def test_a_zone_gives_its_region_and_anything_else_gives_none() -> None:
    assert region_of_zone("us-east-1a") == "us-east-1"
    assert region_of_zone("eu-central-2c") == "eu-central-2"
    assert region_of_zone("us-gov-west-1b") == "us-gov-west-1"
    assert region_of_zone("use1-az1") is None  # a zone id, not a name
    assert region_of_zone("") is None
    assert region_of_zone(None) is None


def test_an_arn_gives_its_region_field_when_it_has_one() -> None:
    assert region_of_arn(TASK_ARN) == "ap-southeast-2"
    assert region_of_arn("arn:aws:iam::123456789012:role/rundeck") is None  # IAM is global
    assert region_of_arn("not an arn") is None
    assert region_of_arn(None) is None


def test_an_ecs_task_takes_its_zone_first_then_its_arn() -> None:
    assert EcsProbe(availability_zone="eu-west-3a", task_arn=TASK_ARN).region == "eu-west-3"
    assert EcsProbe(task_arn=TASK_ARN).region == "ap-southeast-2"
    assert EcsProbe().region is None


def test_the_detection_region_is_the_instances_then_the_tasks() -> None:
    ec2 = scenes.ec2_detection()
    ecs = scenes.ecs_detection()
    both = dataclasses.replace(ecs, ec2=ec2.ec2)
    assert ec2.region == "eu-west-1"
    assert ecs.region == "us-east-2"
    assert both.region == "eu-west-1"
    assert both.region_preferring(Method.ECS) == "us-east-2"
    assert both.region_preferring(Method.EC2) == "eu-west-1"
    assert scenes.nothing_detected().region is None


def test_the_configured_region_is_aws_region_then_aws_default_region() -> None:
    assert configured_region({"AWS_REGION": "eu-north-1", "AWS_DEFAULT_REGION": "us-west-2"}) == (
        "eu-north-1"
    )
    assert configured_region({"AWS_DEFAULT_REGION": "us-west-2"}) == "us-west-2"
    assert configured_region({"AWS_REGION": ""}) is None
    assert configured_region({}) is None
