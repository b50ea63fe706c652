"""Where does this run? EC2 / ECS / credential probes, run concurrently with short timeouts.

Metadata endpoints are read with plain ``http.client`` and our own deadlines, so a host off AWS
answers in milliseconds; botocore is imported lazily, and only when there are credentials to test.
"""

from __future__ import annotations

from tui.core.detect.container import probe_ecs
from tui.core.detect.engine import detect_environment
from tui.core.detect.imds import probe_ec2
from tui.core.detect.model import (
    DIAGNOSIS_TEXT,
    CredentialSources,
    Detection,
    Diagnosis,
    Ec2Probe,
    EcsProbe,
    Identity,
    ProbeUpdate,
    recommend,
)
from tui.core.detect.report import format_detection
from tui.core.detect.sources import inspect_credential_sources

__all__ = [
    "DIAGNOSIS_TEXT",
    "CredentialSources",
    "Detection",
    "Diagnosis",
    "Ec2Probe",
    "EcsProbe",
    "Identity",
    "ProbeUpdate",
    "detect_environment",
    "format_detection",
    "inspect_credential_sources",
    "probe_ec2",
    "probe_ecs",
    "recommend",
]
