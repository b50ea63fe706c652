"""A Rundeck cluster configured by Ansible: every node runs ``apply`` with the secret on stdin."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tui.demo import make_rundeck_layout

REPO = Path(__file__).resolve().parents[2]
KEY_ID = "AKIA" + "ANSIBLETEST00001"[:16]
SECRET = "ansibleSecretValue0123456789abcdefABCDEF"  # 40 characters, the shape AWS uses

PLAYBOOK = """\
- hosts: rundeck
  gather_facts: false
  tasks:
    - name: Configure Rundeck's AWS authentication
      ansible.builtin.command:
        argv:
          - "{{ python }}"
          - -m
          - tui
          - apply
          - --method
          - access-key
          - --project
          - ops
          - --region
          - eu-west-1
          - --access-key-id
          - "{{ aws_access_key_id }}"
          - --secret-stdin
          - --rdeck-base
          - "{{ rdeck_base }}"
          - --yes
          - --json
        stdin: "{{ aws_secret_access_key }}"
        stdin_add_newline: false
      register: setup
      changed_when: (setup.stdout | from_json).changed
      no_log: true

    - name: Every node reports success
      ansible.builtin.assert:
        that:
          - (setup.stdout | from_json).ok
          - (setup.stdout | from_json).exit_code == 0
"""


@pytest.mark.slow
def test_playbook_configures_every_node(
    tmp_path: Path, secret_service: object, java_properties: object
) -> None:
    if (
        shutil.which("ansible-playbook") is None
        and not (Path(sys.executable).parent / "ansible-playbook").exists()
    ):
        pytest.fail("ansible-core is part of the test extras and must be installed")
    playbook_cmd = str(Path(sys.executable).parent / "ansible-playbook")
    if not Path(playbook_cmd).exists():
        playbook_cmd = shutil.which("ansible-playbook") or "ansible-playbook"
    nodes = {}
    for index in range(1, 4):
        root = tmp_path / f"node{index}"
        root.mkdir()
        nodes[f"node{index}"] = make_rundeck_layout(root)
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(
        "[rundeck]\n"
        + "".join(
            f"{name} ansible_connection=local rdeck_base={base} "
            f"ansible_python_interpreter={sys.executable}\n"
            for name, base in nodes.items()
        )
    )
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    secrets_file = tmp_path / "vars.json"
    secrets_file.write_text(
        json.dumps(
            {
                "python": sys.executable,
                "aws_access_key_id": KEY_ID,
                "aws_secret_access_key": SECRET,
            }
        )
    )
    secrets_file.chmod(0o600)
    env = {
        **os.environ,
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "PYTHONPATH": str(REPO),
    }
    run = subprocess.run(
        [playbook_cmd, "-i", str(inventory), str(tmp_path / "site.yml"), "-e", f"@{secrets_file}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert SECRET not in output
    for name, base in nodes.items():
        assert f"{name}" in output
        values = java_properties(base / "projects" / "ops" / "etc" / "project.properties")  # type: ignore[operator]
        assert values["project.aws.access_key"] == KEY_ID
        assert values["project.aws.secret_key_path"] == "keys/project/ops/aws/secret-key"
        assert values["project.aws.region"] == "eu-west-1"
        assert "project.aws.credentialProvider" not in values
        assert SECRET not in (base / "projects" / "ops" / "etc" / "aws-setup.toml").read_text()
    assert "ok=2" in run.stdout and "failed=0" in run.stdout
