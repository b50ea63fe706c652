"""Services for ``--demo``: the same wizard, bound to the sandbox."""

from __future__ import annotations

from tui.demo import DemoSandbox
from tui.services import ProgressCallback, Services, connect_with_keyring, now


def demo_services(sandbox: DemoSandbox | None = None) -> tuple[Services, DemoSandbox]:
    sandbox = sandbox or DemoSandbox()

    def detect(progress: ProgressCallback):  # type: ignore[no-untyped-def]
        from tui.core.detect import detect_environment

        sandbox.start_aws()
        return detect_environment(sandbox.detection_environment(), on_progress=progress)

    def install():  # type: ignore[no-untyped-def]
        from tui.core.rundeck import find_install

        return find_install(sandbox.rdeck_base, env={})

    def keystore():  # type: ignore[no-untyped-def]
        from tui.core.keystore import KeyStore

        return KeyStore(sandbox.keyring, assume_security="secure")  # memory only, never on disk

    def verify(access_key_id, secret, region):  # type: ignore[no-untyped-def]
        from tui.core.aws import caller_identity

        sandbox.start_aws()
        return caller_identity(access_key_id=access_key_id, secret=secret, region=region)

    def aws_client(service, **credentials):  # type: ignore[no-untyped-def]
        from tui.core import aws

        sandbox.start_aws()  # Status may be first (a reopened sandbox): AWS is the sandbox's
        return aws.client(service, **credentials)

    def rundeck_url(_base):  # type: ignore[no-untyped-def]  # the sandbox has one base
        from tui.core.rundeck_api import discover_base_url

        sandbox.start_rundeck()
        return discover_base_url(rdeck_base=sandbox.rdeck_base, env={})

    def rundeck(request):  # type: ignore[no-untyped-def]
        sandbox.start_rundeck()
        return connect_with_keyring(request, keystore, env={})

    services = Services(
        detect=detect,
        install=install,
        keystore=keystore,
        verify=verify,
        clock=now,
        rdeck_base=str(sandbox.rdeck_base),
        demo_root=sandbox.root,
        aws_client=aws_client,
        rundeck_url=rundeck_url,
        rundeck=rundeck,
    )
    return services, sandbox
