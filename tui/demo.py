"""The --demo sandbox: a scratch Rundeck, an emulated EC2 instance, a keyring in memory.

Nothing outside the sandbox folder is touched, and nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from tui.demo_keyring import SandboxKeyring

FRAMEWORK_PROPERTIES = """\
# framework.properties (DEMO sandbox)
# Rundeck's server-wide settings. pa-aws-setup only touches the aws.* keys.
framework.server.name=rundeck-demo
framework.server.hostname=localhost
framework.server.port=4440
framework.server.url=http://localhost:4440

# Projects live on disk in this sandbox:
framework.projects.dir=${rdeck.base}/projects
"""

OPS_PROJECT_PROPERTIES = """\
#Project ops configuration, generated
#Wed Nov 25 09:12:44 UTC 2026
project.name=ops
project.description=Operations runbooks
# Nodes come from the EC2 node source plugin.
resources.source.1.type=aws-ec2
resources.source.1.config.filter=tag\\:Team\\=ops
project.ssh-keypath=/var/lib/rundeck/.ssh/id_rsa
"""

WEB_PROJECT_PROPERTIES = """\
project.name=web
project.description=Web fleet deployments
"""


DEMO_TOKEN = "demo-admin-token-4c1d2e9f7a3b"  # the sandbox Rundeck's admin token, nothing else


def make_rundeck_layout(root: Path) -> Path:
    """A launcher-layout Rundeck base with a framework.properties and two projects."""
    base = root / "rundeck"
    (base / "etc").mkdir(parents=True)
    (base / "etc" / "framework.properties").write_text(FRAMEWORK_PROPERTIES, encoding="latin-1")
    for name, text in (("ops", OPS_PROJECT_PROPERTIES), ("web", WEB_PROJECT_PROPERTIES)):
        folder = base / "projects" / name / "etc"
        folder.mkdir(parents=True)
        (folder / "project.properties").write_text(text, encoding="latin-1")
    return base


class DemoSandbox:
    """Owns the sandbox folder, the moto server (started on first use) and the keyring."""

    def __init__(self, root: Path | None = None, *, reopen: bool = False) -> None:
        """A fresh sandbox in ``root`` (a new temporary folder by default), or, with
        ``reopen``, the sandbox an earlier demo left there (see tui.demo_reopen)."""
        from tui.demo_reopen import KEYRING_FILE, FileSandboxKeyring, check_sandbox, mark_sandbox

        if reopen and root is not None:
            self.root = check_sandbox(root)
            self.rdeck_base = self.root / "rundeck"
        else:
            self.root = root or Path(tempfile.mkdtemp(prefix="pa-aws-setup-demo-"))
            self.rdeck_base = make_rundeck_layout(self.root)
            mark_sandbox(self.root)
        self.keyring: SandboxKeyring = FileSandboxKeyring(self.root / KEYRING_FILE)
        self._server: Any = None
        self.url: str | None = None
        self._aws_lock = threading.Lock()
        self.rundeck: Any = None
        self.rundeck_url: str | None = None

    def start_rundeck(self) -> str:
        """Start the Rundeck API stand-in on loopback (once), with the four projects and an
        admin token kept in the sandbox keyring under its URL, as a run that verified it would;
        the install's rundeck-config.properties points grails.serverURL at it."""
        if self.rundeck_url is not None:
            return self.rundeck_url
        from tui.core.keystore import KeyStore
        from tui.core.rundeck_link import token_key_path
        from tui.core.secret import Secret
        from tui.demo_rundeck import initial_projects, refill_key_storage
        from tui.standins.rundeck_api import RundeckStandIn
        from tui.standins.rundeck_state import StandInToken

        projects = initial_projects(self.root, self.rdeck_base)
        self.rundeck = RundeckStandIn(projects=projects, tokens=[StandInToken.admin(DEMO_TOKEN)])
        refill_key_storage(
            self.rundeck, configured_key_paths(self.rdeck_base, projects), self.keyring
        )
        self.rundeck.on_change = self.keep_rundeck  # kept at once: a killed demo loses nothing
        self.rundeck.start()
        self.rundeck_url = str(self.rundeck.url).rstrip("/")
        config = self.rdeck_base / "server" / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "rundeck-config.properties").write_text(
            f"# rundeck-config.properties (DEMO sandbox)\ngrails.serverURL={self.rundeck_url}\n",
            encoding="latin-1",
        )
        store = KeyStore(self.keyring, assume_security="secure")
        store.put(token_key_path(self.rundeck_url), Secret(DEMO_TOKEN))
        return self.rundeck_url

    def start_aws(self) -> str:
        """Start moto's server on loopback (once) and point this process's AWS calls at it."""
        with self._aws_lock:  # workers ask at once: the second waits until AWS is ready
            return self._start_aws()

    def _start_aws(self) -> str:
        if self.url is not None:
            return self.url
        try:
            from moto.server import ThreadedMotoServer
        except ImportError:
            raise RuntimeError(
                "The demo needs moto's server: pip install 'pa-aws-setup[demo]'"
            ) from None
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self.start_metadata()
        self.remember_keys()
        os.environ.update(self.aws_environment())
        return self.url

    def start_metadata(self) -> None:
        """The instance's metadata service, serving credentials of its role (tui.demo_imds)."""
        from tui.demo_imds import RoleMetadataServer

        assert self.url is not None
        self._metadata: RoleMetadataServer | None = RoleMetadataServer(self.url)

    def remember_keys(self) -> None:
        """moto forgot the sandbox's access keys at the last exit: make them again."""
        from tui.demo_iam import configured_keys, seed_keys

        assert self.url is not None
        seed_keys(self.url, configured_keys(self.rdeck_base, self.keyring))

    def aws_environment(self) -> dict[str, str]:
        assert self.url is not None
        metadata = getattr(self, "_metadata", None)
        return {
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": (metadata.url if metadata else self.url) + "/",
            "AWS_ENDPOINT_URL": self.url,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def detection_environment(self) -> dict[str, str]:
        """This process's environment without any real AWS setting, plus the sandbox's."""
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("AWS_", "ECS_CONTAINER_METADATA"))
        }
        env.update(self.aws_environment())
        return env

    def keep_rundeck(self) -> None:
        """What the demo's Rundeck holds, kept for the next --demo --sandbox of this folder."""
        from tui.demo_rundeck import save_projects

        if self.rundeck is not None:
            with self.rundeck.lock:
                projects = {name: dict(config) for name, config in self.rundeck.projects.items()}
            save_projects(self.root, projects)

    def stop(self) -> None:
        metadata = getattr(self, "_metadata", None)
        if metadata is not None:
            metadata.stop()
            self._metadata = None
        if self.rundeck is not None:
            self.rundeck.stop()
            self.keep_rundeck()
            self.rundeck = None
        if self._server is not None:
            self._server.stop()
            self._server = None


def configured_key_paths(rdeck_base: Path, projects: dict[str, dict[str, str]]) -> list[str]:
    """The key paths the system file and the Rundeck projects name."""
    from tui.core.model import Scope
    from tui.core.rundeck import RundeckError, find_install, read_scope_settings

    paths = [config.get("project.aws.secret_key_path") for config in projects.values()]
    try:
        install = find_install(rdeck_base, env={})
        paths.append(read_scope_settings(install, Scope.SYSTEM, None).secret_key_path)
    except (RundeckError, OSError):
        pass
    return [path for path in paths if path]
