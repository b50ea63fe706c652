"""``pa-aws-setup apply`` run as a real process: flags, answers files, secrets, exit codes.

Every run goes through ``python -m tui`` with the environment of this process (moto, the
private gnome-keyring bus), and every run's stdout and stderr are searched for the secret.
Written files are checked with the real java.util.Properties.
"""

from __future__ import annotations

import json
import os
import pty
import shlex
import shutil
import stat
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.aws import LoopbackPort, MotoServer
from tests.fixtures.ecs_metadata import LoopbackHttpServer
from tests.fixtures.java_oracle import JavaLoadError, JavaPropertiesOracle
from tests.fixtures.keyring_service import SecretServiceSession
from tui import __version__
from tui.core.answers import command_line, dump_answers
from tui.core.keystore import SERVICE, KeyStore
from tui.core.model import Answers, Method, Scope
from tui.core.secret import Secret
from tui.core.writer import LOCK_NAME, atomic_write, install_lock
from tui.demo import make_rundeck_layout

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 60.0
WAIT_DEADLINE = 20.0
KEY_ID = "AKIA" + "PAAWSSETUPTEST01"
SECRET = "pAaWsSeTuPtEsTsEcReT0123456789+/abcdEFGH"
OTHER_SECRET = "AnotherSecretForRotation0123456789abcdEF"
REGION = "eu-west-1"
SYSTEM_KEY_PATH = "keys/aws/rundeck/secret-key"
OPS_KEY_PATH = "keys/project/ops/aws/ci-key"
ENVELOPE = ["schema_version", "version", "command", "exit_code", "ok", "changed"]
READ_SYSCALL = {"x86_64": 0, "aarch64": 63}
STS_REFUSAL = """\
<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>InvalidClientTokenId</Code>
    <Message>The security token included in the request is invalid.</Message>
  </Error>
  <RequestId>4b8a0f1e-6c2d-4e3f-9a0b-1c2d3e4f5a6b</RequestId>
</ErrorResponse>
"""


@dataclass(frozen=True)
class Run:
    """One finished ``python -m tui`` process."""

    args: list[str]
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> dict[str, Any]:
        """The --json document, after checking its envelope matches the exit code."""
        document = json.loads(self.stdout)
        assert isinstance(document, dict), self.stdout
        assert list(document)[: len(ENVELOPE)] == ENVELOPE, list(document)
        assert document["schema_version"] == 1
        assert document["version"] == __version__
        assert document["command"] == "apply"
        assert document["exit_code"] == self.code
        assert document["ok"] is (self.code == 0)
        return document


def assert_secrets_absent(text: str, secrets: Sequence[str]) -> None:
    for secret in secrets:
        assert secret not in text, "a secret appeared in the output"
        assert secret.lower() not in text.lower(), "a secret appeared (case-folded) in the output"


def finish(args: list[str], code: int, stdout: str, stderr: str, hidden: Sequence[str]) -> Run:
    run = Run(args, code, stdout, stderr)
    assert_secrets_absent(run.output, hidden)
    assert "Traceback" not in run.stderr, run.stderr
    return run


def cli(
    *args: str,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    hidden: Sequence[str] = (SECRET, OTHER_SECRET),
    prefix: Sequence[str] = (),
    program: Sequence[str] = (sys.executable, "-m", "tui"),
) -> Run:
    """Run ``python -m tui ARGS``; stdin is ``input`` or /dev/null (never a terminal)."""
    argv = [*prefix, *program, *args]
    completed = subprocess.run(
        argv,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=dict(os.environ if env is None else env),
        cwd=REPO,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    return finish(list(args), completed.returncode, completed.stdout, completed.stderr, hidden)


def tree(root: Path) -> dict[str, tuple[bytes | None, int, int]]:
    """Every path under ``root`` with its bytes, mtime and mode: to prove nothing changed."""
    found: dict[str, tuple[bytes | None, int, int]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        data = path.read_bytes() if stat.S_ISREG(info.st_mode) else None
        found[str(path.relative_to(root))] = (data, info.st_mtime_ns, info.st_mode)
    return found


def files_holding(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def stored_items(session: SecretServiceSession) -> int:
    """How many pa-aws-setup items the private keyring holds (read without changing them)."""
    import secretstorage

    with session.connection() as connection:
        collection = secretstorage.get_default_collection(connection)
        return len(list(collection.search_items({"service": SERVICE})))


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll an external process's state until ``condition`` holds, failing after a deadline."""
    deadline = time.monotonic() + WAIT_DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.01)  # polling another process; there is nothing to block on


def holds_open(pid: int, path: Path) -> bool:
    """True when process ``pid`` has ``path`` open (it reached the lock, in these tests)."""
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            if os.readlink(descriptor) == str(path):
                return True
        except OSError:
            continue
    return False


def blocked_reading_stdin(pid: int) -> bool:
    """True when ``pid`` sits in read(0, …): it is waiting for the secret on stdin."""
    try:
        fields = Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:
        return False
    number = READ_SYSCALL.get(os.uname().machine)
    return len(fields) > 1 and fields[0] == str(number) and int(fields[1], 16) == 0


def popen_cli(*args: str, **options: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
        cwd=REPO,
        **options,
    )


def collect(process: subprocess.Popen[str], args: Sequence[str], input: str | None = None) -> Run:
    stdout, stderr = process.communicate(input, timeout=RUN_TIMEOUT)
    return finish(list(args), process.returncode, stdout, stderr, (SECRET, OTHER_SECRET))


def target_of(base: Path, project: str | None) -> Path:
    if project is None:
        return base / "etc" / "framework.properties"
    return base / "projects" / project / "etc" / "project.properties"


def aws_lines_removed(data: bytes) -> list[bytes]:
    """The lines that are not AWS settings: comments, unrelated keys, blank lines."""
    return [
        line
        for line in data.splitlines()
        if not line.startswith((b"aws.", b"project.aws."))
    ]


def expected_after(
    before: dict[str, str], scope: Scope, method: str, key_path: str | None
) -> dict[str, str]:
    """What Java must load after a setup: unrelated keys kept, old AWS keys replaced."""
    prefix = "project.aws." if scope is Scope.PROJECT else "aws."
    wanted = {"region": REGION}
    if method == "access-key":
        assert key_path is not None
        wanted |= {"access_key": KEY_ID, "secret_key_path": key_path}
    else:
        wanted["credentialProvider"] = "instance" if method == "ec2" else "container"
    kept = {key: value for key, value in before.items() if not key.startswith(prefix)}
    return kept | {prefix + name: value for name, value in wanted.items()}


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A launcher-layout Rundeck: framework.properties and the projects ops and web."""
    return make_rundeck_layout(tmp_path)


@pytest.fixture
def keyring_session(secret_service_clean: SecretServiceSession) -> SecretServiceSession:
    """The private gnome-keyring, unlocked and empty; child processes inherit its bus."""
    return secret_service_clean


# --- help and version -------------------------------------------------------------------


def test_version_names_the_tool_and_its_version() -> None:
    run = cli("--version")
    assert run.code == 0
    assert run.stdout.strip() == f"pa-aws-setup {__version__}"


@pytest.mark.parametrize("command", [[], ["detect"], ["apply"], ["status"], ["rotate"]])
def test_help_everywhere_has_examples(command: list[str]) -> None:
    run = cli(*command, "--help")
    assert run.code == 0, run.output
    assert run.stdout.startswith(f"usage: pa-aws-setup {' '.join(command)}".rstrip())
    assert "examples:\n  pa-aws-setup" in run.stdout


def test_apply_help_lists_every_option_and_every_way_to_pass_the_secret() -> None:
    run = cli("apply", "--help")
    for option in (
        "--method {ec2,ecs,access-key}", "--system", "--project NAME", "--region R",
        "--access-key-id ID", "--key-path keys/...", "--rdeck-base DIR", "--answers FILE.toml",
        "--secret-stdin", "--secret-file FILE", "--dry-run", "--verify", "--yes", "--json",
        "--paste-file FILE", "PA_AWS_SECRET_ACCESS_KEY",
    ):
        assert option in run.stdout, option
    assert "--secret " not in run.stdout.replace("--secret-", "")


def test_main_help_documents_every_exit_code() -> None:
    text = " ".join(cli("--help").stdout.split())
    for code in ("0 done or nothing to do", "2 usage", "3 verification failed",
                 "4 keyring unavailable or locked", "5 config not writable or invalid",
                 "6 AWS refused"):
        assert code in text


# --- three methods, two scopes, from flags or an answers file ----------------------------


@pytest.mark.parametrize("source", ["flags", "answers"])
@pytest.mark.parametrize("scope", [Scope.SYSTEM, Scope.PROJECT])
@pytest.mark.parametrize("method", ["ec2", "ecs", "access-key"])
def test_each_method_and_scope_writes_what_java_reads(
    method: str,
    scope: Scope,
    source: str,
    base: Path,
    tmp_path: Path,
    keyring_session: SecretServiceSession,
    keystore: KeyStore,
    java_properties: JavaPropertiesOracle,
) -> None:
    project = "ops" if scope is Scope.PROJECT else None
    target = target_of(base, project)
    access_key = method == "access-key"
    key_path = (OPS_KEY_PATH if project else SYSTEM_KEY_PATH) if access_key else None
    before_bytes = target.read_bytes()
    before = java_properties(target)
    answers = Answers(Method(method), scope, project, REGION,
                      KEY_ID if access_key else None, key_path)
    if source == "flags":
        args = ["apply", "--method", method, "--region", REGION, "--rdeck-base", str(base)]
        args += ["--project", project] if project else ["--system"]
        if access_key:
            assert key_path is not None
            args += ["--access-key-id", KEY_ID, "--key-path", key_path]
    else:
        answers_file = tmp_path / "answers.toml"
        answers_file.write_text(dump_answers(answers, rdeck_base=str(base)))
        args = ["apply", "--answers", str(answers_file)]
    args += ["--secret-stdin"] if access_key else []
    run = cli(*args, "--yes", "--json", input=SECRET if access_key else None)

    assert run.code == 0, run.output
    document = run.json()
    assert document["changed"] is True and document["dry_run"] is False
    assert (document["method"], document["scope"], document["project"]) == (
        method, str(scope), project
    )
    assert document["target"] == str(target)
    assert java_properties(target) == expected_after(before, scope, method, key_path)
    assert aws_lines_removed(target.read_bytes()) == aws_lines_removed(before_bytes)
    assert Path(document["backup"]).read_bytes() == before_bytes
    record = tomllib.loads((target.parent / "aws-setup.toml").read_text())
    assert (record["method"], record["scope"], record["region"]) == (method, str(scope), REGION)
    assert record.get("access_key_id") == (KEY_ID if access_key else None)
    assert record.get("key_path") == key_path
    assert files_holding(base, SECRET) == []
    if access_key:
        assert key_path is not None
        assert document["keyring"]["path"] == key_path
        assert document["keyring"]["key_type"] == "password"
        assert keystore.get(key_path) == Secret(SECRET)
        assert stored_items(keyring_session) == 1
    else:
        assert document["keyring"] is None
        assert stored_items(keyring_session) == 0


def test_answers_file_from_the_wizard_matches_the_command_line_it_shows(
    tmp_path: Path, keyring_session: SecretServiceSession, java_properties: JavaPropertiesOracle
) -> None:
    """The Done screen saves dump_answers() and shows command_line(); both do the same."""
    by_flags = make_rundeck_layout(tmp_path / "flags")
    by_file = make_rundeck_layout(tmp_path / "file")
    answers = Answers(Method.ACCESS_KEY, Scope.PROJECT, "ops", REGION, KEY_ID, OPS_KEY_PATH)
    shown = shlex.split(command_line(answers, rdeck_base=str(by_flags)))
    assert shown[:2] == ["pa-aws-setup", "apply"] and "--secret-stdin" in shown
    first = cli(*shown[1:], input=SECRET)
    answers_file = tmp_path / "answers.toml"
    answers_file.write_text(dump_answers(answers, rdeck_base=str(by_file)))
    assert "secret" not in answers_file.read_text().replace("secret_key", "").replace(
        "secret-key", ""
    )
    second = cli("apply", "--answers", str(answers_file), "--secret-stdin", "--yes", input=SECRET)
    assert (first.code, second.code) == (0, 0), first.output + second.output
    flags_target, file_target = target_of(by_flags, "ops"), target_of(by_file, "ops")
    assert flags_target.read_bytes() == file_target.read_bytes()
    assert java_properties(file_target)["project.aws.access_key"] == KEY_ID

    def comparable(target: Path) -> dict[str, Any]:
        record = tomllib.loads((target.parent / "aws-setup.toml").read_text())
        return {k: v for k, v in record.items()
                if k not in ("properties_file", "created_at", "updated_at")}

    assert comparable(flags_target) == comparable(file_target)


def test_flags_override_the_answers_file(
    base: Path, tmp_path: Path, java_properties: JavaPropertiesOracle
) -> None:
    answers_file = tmp_path / "answers.toml"
    answers_file.write_text(
        dump_answers(Answers(Method.EC2, Scope.PROJECT, "web", "us-east-1"), rdeck_base="/nope")
    )
    web_before = tree(base / "projects" / "web")
    run = cli("apply", "--answers", str(answers_file), "--method", "ecs", "--system",
              "--region", REGION, "--rdeck-base", str(base), "--yes")
    assert run.code == 0, run.output
    loaded = java_properties(base / "etc" / "framework.properties")
    assert loaded["aws.credentialProvider"] == "container"
    assert loaded["aws.region"] == REGION
    assert tree(base / "projects" / "web") == web_before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (f'method = "access-key"\nsecret_access_key = "{SECRET}"\n', "has a secret field"),
        (f'method = "access-key"\nSecret = "{SECRET}"\n', "has a secret field"),
        ('method = "ec2"\nscope = "system"\ncolour = "blue"\n', "unknown fields: colour"),
        ('method = "ec2"\nscope = \n', "is not valid TOML"),
        ('method = "ec2"\nscope = "everywhere"\n', "Unknown scope 'everywhere'"),
    ],
    ids=["secret-field", "secret-field-any-case", "unknown-field", "bad-toml", "bad-scope"],
)
def test_a_bad_answers_file_is_refused_and_changes_nothing(
    content: str, message: str, base: Path, tmp_path: Path
) -> None:
    answers_file = tmp_path / "answers.toml"
    answers_file.write_text(content)
    before = tree(base)
    run = cli("apply", "--answers", str(answers_file), "--rdeck-base", str(base), "--yes",
              "--json")
    assert run.code == 2
    assert message in run.json()["error"]
    assert tree(base) == before


def test_a_missing_answers_file_is_a_usage_error(base: Path, tmp_path: Path) -> None:
    run = cli("apply", "--answers", str(tmp_path / "absent.toml"), "--rdeck-base", str(base))
    assert run.code == 2
    assert "absent.toml does not exist" in run.stderr


# --- dry run, confirmation, terminals ------------------------------------------------------


def test_dry_run_prints_plan_and_diff_and_changes_nothing(
    base: Path, keyring_session: SecretServiceSession
) -> None:
    before = tree(base)
    run = cli("apply", "--method", "access-key", "--project", "ops", "--access-key-id", KEY_ID,
              "--region", REGION, "--rdeck-base", str(base), "--secret-stdin", "--dry-run",
              input=SECRET)
    assert run.code == 0, run.output
    assert "--- project.properties (current)\n+++ project.properties (new)\n" in run.stdout
    assert "-project.aws.credentialProvider=instance\n" in run.stdout
    assert f"+project.aws.access_key={KEY_ID}\n" in run.stdout
    assert "+project.aws.secret_key_path=keys/project/ops/aws/secret-key\n" in run.stdout
    assert (
        "keyring: store the secret as a Rundeck password at keys/project/ops/aws/secret-key"
        in run.stdout
    )
    assert "warning: Removes project.aws.credentialProvider" in run.stdout
    assert run.stdout.rstrip().endswith("Dry run: nothing was changed.")
    assert "\x1b[" not in run.output
    assert tree(base) == before
    assert stored_items(keyring_session) == 0


def test_dry_run_json_carries_the_diff(base: Path) -> None:
    before = tree(base)
    run = cli("apply", "--method", "ec2", "--system", "--rdeck-base", str(base), "--dry-run",
              "--json")
    document = run.json()
    assert (document["changed"], document["dry_run"]) == (False, True)
    assert "+aws.credentialProvider=instance\n" in document["diff"]
    assert "steps" not in document
    assert tree(base) == before


def test_without_yes_and_without_a_terminal_nothing_is_written(
    base: Path, keyring_session: SecretServiceSession
) -> None:
    before = tree(base)
    run = cli("apply", "--method", "access-key", "--system", "--access-key-id", KEY_ID,
              "--rdeck-base", str(base), "--secret-stdin", input=SECRET)
    assert run.code == 2
    assert "stdin is not a terminal, so pass --yes" in run.stderr
    assert tree(base) == before
    assert stored_items(keyring_session) == 0


@pytest.mark.parametrize(("reply", "applied"), [("n\n", False), ("y\n", True)])
def test_on_a_terminal_apply_asks_first(
    reply: str, applied: bool, base: Path, java_properties: JavaPropertiesOracle
) -> None:
    args = ["apply", "--method", "ec2", "--system", "--rdeck-base", str(base)]
    before = tree(base)
    controller, terminal = pty.openpty()
    try:
        os.write(controller, reply.encode())
        process = popen_cli(*args, stdin=terminal)
        os.close(terminal)
        terminal = -1
        run = collect(process, args)
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    assert run.code == 0, run.output
    assert "Apply these changes? [y/N]" in run.stdout
    if applied:
        assert "Done:" in run.stdout
        assert java_properties(base / "etc" / "framework.properties")[
            "aws.credentialProvider"
        ] == "instance"
    else:
        assert "Cancelled: nothing changed." in run.stdout
        assert tree(base) == before


def read_terminal(controller: int) -> str:
    """Everything a child wrote to its terminal, until it closed it (EIO on Linux)."""
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


@pytest.mark.parametrize("no_color", [False, True])
def test_colour_only_on_a_terminal_and_never_with_no_color(no_color: bool, base: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    if no_color:
        env["NO_COLOR"] = "1"
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "tui", "apply", "--method", "ec2", "--system",
             "--rdeck-base", str(base), "--dry-run"],
            stdin=subprocess.DEVNULL, stdout=terminal, stderr=subprocess.PIPE, env=env, cwd=REPO,
        )
        os.close(terminal)
        terminal = -1
        shown = read_terminal(controller)
        assert process.wait(timeout=RUN_TIMEOUT) == 0
        assert process.stderr is not None
        process.stderr.close()
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    assert "aws.credentialProvider=instance" in shown
    assert ("\x1b[32m+aws.credentialProvider=instance" in shown) is not no_color
    assert ("\x1b[" in shown) is not no_color


# --- the secret: where it may come from, and where it must never be ---------------------


def test_secret_from_a_private_file(
    base: Path, tmp_path: Path, keystore: KeyStore
) -> None:
    secret_file = tmp_path / "aws-secret"
    secret_file.write_text(SECRET + "\n")
    secret_file.chmod(0o600)
    run = cli("apply", "--method", "access-key", "--system", "--access-key-id", KEY_ID,
              "--rdeck-base", str(base), "--secret-file", str(secret_file), "--yes")
    assert run.code == 0, run.output
    assert keystore.get("keys/aws/secret-key") == Secret(SECRET)


def test_secret_file_readable_by_others_is_refused(
    base: Path, tmp_path: Path, keyring_session: SecretServiceSession
) -> None:
    secret_file = tmp_path / "aws-secret"
    secret_file.write_text(SECRET)
    secret_file.chmod(0o644)
    before = tree(base)
    run = cli("apply", "--method", "access-key", "--system", "--access-key-id", KEY_ID,
              "--rdeck-base", str(base), "--secret-file", str(secret_file), "--yes")
    assert run.code == 2
    assert "readable by group or others (mode 644)" in run.stderr
    assert f"chmod 600 {secret_file}" in run.stderr
    assert tree(base) == before
    assert stored_items(keyring_session) == 0


def test_secret_from_an_inherited_descriptor(base: Path, keystore: KeyStore) -> None:
    """``--secret-file /dev/fd/N``: a pipe is no file on disk, so its mode does not matter."""
    reader, writer = os.pipe()
    try:
        os.write(writer, SECRET.encode())
        os.close(writer)
        writer = -1
        args = ["apply", "--method", "access-key", "--system", "--access-key-id", KEY_ID,
                "--rdeck-base", str(base), "--secret-file", f"/dev/fd/{reader}", "--yes"]
        process = popen_cli(*args, stdin=subprocess.DEVNULL, pass_fds=(reader,))
        run = collect(process, args)
    finally:
        os.close(reader)
        if writer >= 0:
            os.close(writer)
    assert run.code == 0, run.output
    assert keystore.get("keys/aws/secret-key") == Secret(SECRET)


GRANDCHILD_PROBE = """\
import os, subprocess, sys
from tui.cli import main
code = main(sys.argv[1:])
probe = "import os, sys; sys.exit(7 if 'PA_AWS_SECRET_ACCESS_KEY' in os.environ else 0)"
inherited = subprocess.run([sys.executable, "-c", probe]).returncode
print("own environment:", "has it" if "PA_AWS_SECRET_ACCESS_KEY" in os.environ else "clean",
      file=sys.stderr)
print("grandchild environment:", "has it" if inherited == 7 else "clean", file=sys.stderr)
raise SystemExit(code)
"""


def test_secret_from_the_environment_is_not_passed_on(base: Path, keystore: KeyStore) -> None:
    """The variable is taken out of the process's environment, so no child inherits it."""
    env = {**os.environ, "PA_AWS_SECRET_ACCESS_KEY": SECRET}
    run = cli("apply", "--method", "access-key", "--system", "--access-key-id", KEY_ID,
              "--rdeck-base", str(base), "--yes", env=env,
              program=[sys.executable, "-c", GRANDCHILD_PROBE])
    assert run.code == 0, run.output
    assert "own environment: clean" in run.stderr
    assert "grandchild environment: clean" in run.stderr
    assert keystore.get("keys/aws/secret-key") == Secret(SECRET)


def test_secret_is_not_in_the_command_line_of_a_running_apply(
    base: Path, keystore: KeyStore
) -> None:
    args = ["apply", "--method", "access-key", "--project", "ops", "--access-key-id", KEY_ID,
            "--rdeck-base", str(base), "--secret-stdin", "--yes", "--json"]
    process = popen_cli(*args, stdin=subprocess.PIPE)
    try:
        wait_until(lambda: blocked_reading_stdin(process.pid), "apply to read its stdin")
        command_line_seen = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        environment_seen = Path(f"/proc/{process.pid}/environ").read_bytes()
    except BaseException:
        process.kill()
        process.communicate()
        raise
    assert b"\0-m\0tui\0apply\0" in command_line_seen
    assert SECRET.encode() not in command_line_seen
    assert SECRET.encode() not in environment_seen
    run = collect(process, args, input=SECRET)
    assert run.code == 0, run.output
    assert keystore.get("keys/project/ops/aws/secret-key") == Secret(SECRET)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "The secret access key is empty."),
        (SECRET[:-1], "A secret access key has 40 characters; this one has 39."),
        (SECRET[:-1] + "-", "only letters, digits, '/' and '+'"),
    ],
    ids=["empty", "too-short", "bad-character"],
)
def test_a_malformed_secret_is_refused_without_echoing_it(
    given: str, message: str, base: Path, keyring_session: SecretServiceSession
) -> None:
    before = tree(base)
    run = cli("apply", "--method", "access-key", "--system", "--access-key-id", KEY_ID,
              "--rdeck-base", str(base), "--secret-stdin", "--yes", "--json", input=given,
              hidden=[SECRET[:-1]])
    assert run.code == 2
    assert message in run.json()["error"]
    assert tree(base) == before
    assert stored_items(keyring_session) == 0


def test_no_secret_anywhere_is_a_usage_error(
    base: Path, keyring_session: SecretServiceSession
) -> None:
    before = tree(base)
    run = cli("apply", "--method", "access-key", "--system", "--access-key-id", KEY_ID,
              "--rdeck-base", str(base), "--yes")
    assert run.code == 2
    assert "No secret given and none stored at keys/aws/secret-key" in run.stderr
    assert tree(base) == before


# --- usage errors (exit 2) -------------------------------------------------------------------


USAGE_ERRORS = {
    "no-method": (["--system"], "No method given: use --method ec2|ecs|access-key."),
    "no-scope": (["--method", "ec2"], "No scope given: use --system or --project NAME."),
    "unknown-method": (["--method", "iam", "--system"], "invalid choice: 'iam'"),
    "temporary-key": (
        ["--method", "access-key", "--system", "--access-key-id", "ASIA" + KEY_ID[4:]],
        "ASIA… is a temporary (STS session) key",
    ),
    "short-key-id": (
        ["--method", "access-key", "--system", "--access-key-id", "AKIA1234"],
        "An access key id has 20 characters; this one has 8.",
    ),
    "no-key-id": (["--method", "access-key", "--system"], "needs --access-key-id"),
    "key-id-for-a-role": (
        ["--method", "ec2", "--system", "--access-key-id", KEY_ID],
        "--access-key-id does not apply to the ec2 method.",
    ),
    "project-dot-dot": (["--method", "ec2", "--project", "../x"], "contains a path separator"),
    "project-blank": (["--method", "ec2", "--project", "a b"], "characters Rundeck rejects"),
    "project-dotted": (["--method", "ec2", "--project", ".ops"], "characters Rundeck rejects"),
    "region-shape": (["--method", "ec2", "--system", "--region", "Mars"], "not shaped like"),
    "region-unknown": (
        ["--method", "ec2", "--system", "--region", "xx-east-9"],
        "xx-east-9 is not a region this version of botocore knows.",
    ),
    "key-path-slash": (
        ["--method", "access-key", "--system", "--access-key-id", KEY_ID, "--key-path", "/keys/a"],
        "without the leading '/'",
    ),
    "key-path-other-project": (
        ["--method", "access-key", "--project", "ops", "--access-key-id", KEY_ID,
         "--key-path", "keys/project/web/aws/key"],
        "must be stored under keys/project/ops/",
    ),
    "both-scopes": (
        ["--method", "ec2", "--system", "--project", "ops"],
        "argument --project: not allowed with argument --system",
    ),
    "two-secret-sources": (
        ["--method", "ec2", "--system", "--secret-stdin", "--secret-file", "x"],
        "not allowed with argument --secret-stdin",
    ),
    "unknown-flag": (["--method", "ec2", "--system", "--frobnicate"],
                     "unrecognized arguments: --frobnicate"),
    "secret-option": (
        ["--method", "access-key", "--system", "--secret", SECRET],
        "--secret is refused: a secret on the command line is visible to every user in `ps`",
    ),
    "secret-option-equals": (
        ["--method", "access-key", "--system", f"--secret={SECRET}"], "--secret is refused"
    ),
    "aws-secret-option": (
        ["--method", "access-key", "--system", "--aws-secret-access-key", SECRET],
        "--aws-secret-access-key is refused",
    ),
    "stray-secret": (["--method", "ec2", "--system", SECRET], "unrecognized arguments: <hidden>"),
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_usage_errors_exit_2_with_a_clear_message_and_change_nothing(
    case: str, base: Path, keyring_session: SecretServiceSession
) -> None:
    extra, message = USAGE_ERRORS[case]
    before = tree(base)
    run = cli("apply", *extra, "--rdeck-base", str(base), "--yes")
    assert run.code == 2, run.output
    assert message in run.stderr
    assert run.stdout == ""
    assert tree(base) == before
    assert stored_items(keyring_session) == 0


def test_secret_option_refusal_says_what_to_use_instead(base: Path) -> None:
    run = cli("apply", "--method", "access-key", "--system", "--secret", SECRET, "--json")
    assert run.code == 2
    for remedy in ("--secret-stdin", "--secret-file FILE", "PA_AWS_SECRET_ACCESS_KEY"):
        assert remedy in run.stderr


# --- verification (exit 3) ----------------------------------------------------------------


@dataclass(frozen=True)
class IamKey:
    user_arn: str
    access_key_id: str
    secret: str


@pytest.fixture
def iam_key(aws_env: MotoServer) -> IamKey:
    """An IAM user with an access key, in moto: what an admin creates for the access-key method."""
    import boto3

    iam = boto3.client("iam", endpoint_url=aws_env.url, region_name="us-east-1")
    user = iam.create_user(UserName="rundeck-bot")["User"]
    key = iam.create_access_key(UserName="rundeck-bot")["AccessKey"]
    return IamKey(user["Arn"], key["AccessKeyId"], key["SecretAccessKey"])


def test_verify_with_sts_then_write(
    base: Path, iam_key: IamKey, keystore: KeyStore, java_properties: JavaPropertiesOracle
) -> None:
    run = cli("apply", "--method", "access-key", "--system", "--access-key-id",
              iam_key.access_key_id, "--rdeck-base", str(base), "--secret-stdin", "--verify",
              "--yes", "--json", input=iam_key.secret, hidden=[iam_key.secret])
    assert run.code == 0, run.output
    assert run.json()["identity"]["arn"] == iam_key.user_arn
    loaded = java_properties(base / "etc" / "framework.properties")
    assert loaded["aws.access_key"] == iam_key.access_key_id
    assert keystore.get("keys/aws/secret-key") == Secret(iam_key.secret)


def test_verify_prints_who_aws_says_the_key_belongs_to(
    base: Path, iam_key: IamKey, keyring_session: SecretServiceSession
) -> None:
    run = cli("apply", "--method", "access-key", "--system", "--access-key-id",
              iam_key.access_key_id, "--rdeck-base", str(base), "--secret-stdin", "--verify",
              "--yes", input=iam_key.secret, hidden=[iam_key.secret])
    assert run.code == 0, run.output
    assert f"Verified with AWS STS: {iam_key.user_arn}" in run.stdout


def sts_env(url: str) -> dict[str, str]:
    return {**os.environ, "AWS_ENDPOINT_URL": url, "AWS_ENDPOINT_URL_STS": url}


def test_verify_against_an_unreachable_sts_exits_3_and_writes_nothing(
    base: Path, closed_port: LoopbackPort, keyring_session: SecretServiceSession
) -> None:
    before = tree(base)
    run = cli("apply", "--method", "access-key", "--project", "ops", "--access-key-id", KEY_ID,
              "--rdeck-base", str(base), "--secret-stdin", "--verify", "--yes", "--json",
              input=SECRET, env=sts_env(closed_port.url))
    assert run.code == 3, run.output
    error = run.json()["error"]
    assert error.startswith("Verification failed, nothing was written: Could not reach AWS")
    assert tree(base) == before
    assert stored_items(keyring_session) == 0


def test_a_key_refused_by_sts_exits_3_and_writes_nothing(
    base: Path,
    loopback_http: Callable[[], LoopbackHttpServer],
    keyring_session: SecretServiceSession,
) -> None:
    """apply reports AWS refusing the key as a failed verification (3), not as 6."""
    sts = loopback_http()
    sts.route("POST", "/", STS_REFUSAL, status=403)
    before = tree(base)
    run = cli("apply", "--method", "access-key", "--system", "--access-key-id", KEY_ID,
              "--rdeck-base", str(base), "--secret-stdin", "--verify", "--yes",
              input=SECRET, env=sts_env(sts.url))
    assert run.code == 3, run.output
    assert "AWS refused GetCallerIdentity: InvalidClientTokenId" in run.stderr
    assert sts.paths_requested() == ["/"]
    assert tree(base) == before
    assert stored_items(keyring_session) == 0


def test_dry_run_with_verify_checks_the_key_and_changes_nothing(
    base: Path, closed_port: LoopbackPort, keyring_session: SecretServiceSession
) -> None:
    """Verification is off in a dry run unless asked for; asked for, it must happen."""
    before = tree(base)
    run = cli("apply", "--method", "access-key", "--system", "--access-key-id", KEY_ID,
              "--rdeck-base", str(base), "--secret-stdin", "--verify", "--dry-run",
              input=SECRET, env=sts_env(closed_port.url))
    assert run.code == 3, run.output
    assert "Could not reach AWS" in run.stderr
    assert tree(base) == before


# --- keyring (exit 4) ---------------------------------------------------------------------


def test_no_session_bus_exits_4_and_changes_nothing(base: Path, no_session_bus: object) -> None:
    before = tree(base)
    run = cli("apply", "--method", "access-key", "--system", "--access-key-id", KEY_ID,
              "--rdeck-base", str(base), "--secret-stdin", "--yes", "--json", input=SECRET)
    assert run.code == 4, run.output
    assert "gnome-keyring" in run.json()["error"].lower()
    assert tree(base) == before


def test_roles_need_no_keyring(
    base: Path, no_session_bus: object, java_properties: JavaPropertiesOracle
) -> None:
    run = cli("apply", "--method", "ecs", "--system", "--rdeck-base", str(base), "--yes")
    assert run.code == 0, run.output
    loaded = java_properties(base / "etc" / "framework.properties")
    assert loaded["aws.credentialProvider"] == "container"


def test_locked_keyring_exits_4_and_changes_nothing(
    base: Path, locked_keyring: SecretServiceSession
) -> None:
    before = tree(base)
    run = cli("apply", "--method", "access-key", "--project", "ops", "--access-key-id", KEY_ID,
              "--rdeck-base", str(base), "--secret-stdin", "--yes", input=SECRET)
    assert run.code == 4, run.output
    assert "is locked" in run.stderr
    assert "Everything was rolled back." in run.stderr
    after = tree(base)
    after.pop(f"projects/ops/etc/{LOCK_NAME}", None)
    assert after == before
    assert locked_keyring.is_locked()
    locked_keyring.unlock()
    assert stored_items(locked_keyring) == 0


# --- configuration (exit 5) -------------------------------------------------------------------


def test_binary_framework_properties_exits_5(base: Path) -> None:
    framework = base / "etc" / "framework.properties"
    framework.write_bytes(b"framework.server.name=x\n\x00\x01\x02binary")
    before = tree(base)
    run = cli("apply", "--method", "ec2", "--system", "--rdeck-base", str(base), "--yes")
    assert run.code == 5, run.output
    assert "looks binary (it contains NUL bytes)" in run.stderr
    assert tree(base) == before


def test_missing_install_folder_exits_5(tmp_path: Path) -> None:
    run = cli("apply", "--method", "ec2", "--system", "--rdeck-base", str(tmp_path / "nope"),
              "--yes", "--json")
    assert run.code == 5
    assert "The Rundeck base folder" in run.json()["error"]
    assert not (tmp_path / "nope").exists()


def test_folder_without_framework_properties_exits_5(tmp_path: Path) -> None:
    run = cli("apply", "--method", "ec2", "--system", "--rdeck-base", str(tmp_path), "--yes")
    assert run.code == 5
    assert "is " + str(tmp_path) + " a Rundeck base folder" in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_properties_java_refuses_exits_5(
    base: Path, java_properties: JavaPropertiesOracle
) -> None:
    target = target_of(base, "ops")
    with target.open("ab") as handle:
        handle.write(b"broken=\\uZZZZ\n")
    with pytest.raises(JavaLoadError):
        java_properties(target)
    before = tree(base)
    run = cli("apply", "--method", "ec2", "--project", "ops", "--rdeck-base", str(base), "--yes")
    assert run.code == 5, run.output
    assert "malformed \\uXXXX escape" in run.stderr
    assert tree(base) == before


def test_symlink_out_of_the_install_exits_5(base: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.properties"
    outside.write_bytes(b"secret.stuff=1\n")
    target = target_of(base, "ops")
    target.unlink()
    target.symlink_to(outside)
    before = tree(base), outside.read_bytes()
    run = cli("apply", "--method", "ec2", "--project", "ops", "--rdeck-base", str(base), "--yes")
    assert run.code == 5, run.output
    assert f"is a symbolic link to {outside}, outside the Rundeck install" in run.stderr
    assert (tree(base), outside.read_bytes()) == before


def read_only_command(folder: Path) -> list[str]:
    """A prefix that runs a command with ``folder`` mounted read-only (root ignores modes)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("unshare") is None:
        pytest.skip("root ignores file modes, and unshare (util-linux) is not installed")
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("root ignores file modes, and this sandbox refuses mount namespaces")
    script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script,
            str(folder)]


def test_read_only_configuration_exits_5(base: Path) -> None:
    """A genuinely unwritable etc folder: a read-only bind mount for root, modes otherwise."""
    etc = base / "etc"
    command = read_only_command(etc)
    if not command:
        (etc / "framework.properties").chmod(0o444)
        etc.chmod(0o555)
    before = tree(base)
    try:
        run = cli("apply", "--method", "ec2", "--system", "--rdeck-base", str(base), "--yes",
                  prefix=command)
    finally:
        etc.chmod(0o755)
    assert run.code == 5, run.output
    assert "read-only" in run.stderr and "nothing was changed" in run.stderr
    assert tree(base) == before


def test_a_failed_write_rolls_back_file_and_keyring(
    base: Path, keyring_session: SecretServiceSession
) -> None:
    """The record cannot be written (a folder sits at its path) after the properties file was."""
    target = target_of(base, "ops")
    before_bytes = target.read_bytes()
    (target.parent / "aws-setup.toml").mkdir()
    run = cli("apply", "--method", "access-key", "--project", "ops", "--access-key-id", KEY_ID,
              "--rdeck-base", str(base), "--secret-stdin", "--yes", input=SECRET)
    assert run.code == 5, run.output
    assert "aws-setup.toml is not a regular file." in run.stderr
    assert "Everything was rolled back." in run.stderr
    assert target.read_bytes() == before_bytes
    assert sorted(p.name for p in target.parent.iterdir()) == [
        LOCK_NAME, "aws-setup.toml", "project.properties"
    ]
    assert stored_items(keyring_session) == 0


# --- databases, idempotency, concurrency ---------------------------------------------------


@pytest.mark.parametrize("method", ["ec2", "access-key"])
def test_database_project_gets_lines_to_paste(
    method: str,
    base: Path,
    tmp_path: Path,
    keyring_session: SecretServiceSession,
    java_properties: JavaPropertiesOracle,
) -> None:
    paste_file = tmp_path / "paste.properties"
    before = tree(base)
    extra = ["--access-key-id", KEY_ID] if method == "access-key" else []
    run = cli("apply", "--method", method, "--project", "billing", *extra, "--region", REGION,
              "--rdeck-base", str(base), "--paste-file", str(paste_file), "--yes", "--json")
    assert run.code == 0, run.output
    document = run.json()
    assert document["changed"] is False and document["database_project"] is True
    assert "Edit Configuration File" in document["message"]
    assert document["paste_lines"] == paste_file.read_text()
    expected = {"project.aws.region": REGION}
    if method == "access-key":
        expected |= {"project.aws.access_key": KEY_ID,
                     "project.aws.secret_key_path": "keys/project/billing/aws/secret-key"}
        assert "keys/project/billing/aws/secret-key" in document["message"]
    else:
        expected["project.aws.credentialProvider"] = "instance"
    assert java_properties(paste_file) == expected
    assert tree(base) == before
    assert stored_items(keyring_session) == 0


@pytest.mark.parametrize("method", ["ec2", "ecs", "access-key"])
def test_applying_twice_changes_nothing_the_second_time(
    method: str, base: Path, keyring_session: SecretServiceSession
) -> None:
    extra = ["--access-key-id", KEY_ID, "--secret-stdin"] if method == "access-key" else []
    args = ["apply", "--method", method, "--project", "ops", "--region", REGION, *extra,
            "--rdeck-base", str(base), "--yes"]
    secret = SECRET if method == "access-key" else None
    first = cli(*args, input=secret)
    assert first.code == 0 and "Done:" in first.stdout, first.output
    after_first = tree(base)
    backups = [p for p in base.rglob("*.bak-*")]
    assert len(backups) == 1
    second = cli(*args, "--json", input=secret)
    assert second.code == 0, second.output
    document = second.json()
    assert document["changed"] is False
    assert document["message"] == "No changes: already set up."
    assert document["diff"] == ""
    assert tree(base) == after_first
    third = cli(*args, input=secret)
    assert third.stdout.strip() == "No changes: already set up."
    assert tree(base) == after_first
    assert stored_items(keyring_session) == (1 if method == "access-key" else 0)


def test_a_new_secret_alone_replaces_the_keyring_item(
    base: Path, keystore: KeyStore
) -> None:
    args = ["apply", "--method", "access-key", "--system", "--access-key-id", KEY_ID,
            "--rdeck-base", str(base), "--secret-stdin", "--yes"]
    assert cli(*args, input=SECRET).code == 0
    framework = base / "etc" / "framework.properties"
    written = framework.read_bytes()
    run = cli(*args, input=OTHER_SECRET)
    assert run.code == 0, run.output
    assert "keyring: replace the secret" in run.stdout
    assert keystore.get("keys/aws/secret-key") == Secret(OTHER_SECRET)
    assert framework.read_bytes() == written


def test_apply_waits_for_the_lock_then_fails_clearly(base: Path) -> None:
    etc = base / "etc"
    before = (etc / "framework.properties").read_bytes()
    args = ["apply", "--method", "ec2", "--system", "--rdeck-base", str(base), "--yes"]
    with install_lock(etc, wait_seconds=0):
        process = popen_cli(*args, stdin=subprocess.DEVNULL)
        run = collect(process, args)
    assert run.code == 5, run.output
    assert f"Another pa-aws-setup run holds {etc / LOCK_NAME}" in run.stderr
    assert (etc / "framework.properties").read_bytes() == before


def test_apply_waits_for_the_lock_then_writes(
    base: Path, java_properties: JavaPropertiesOracle
) -> None:
    etc = base / "etc"
    before = (etc / "framework.properties").read_bytes()
    args = ["apply", "--method", "ec2", "--system", "--rdeck-base", str(base), "--yes"]
    with install_lock(etc, wait_seconds=0):
        process = popen_cli(*args, stdin=subprocess.DEVNULL)
        wait_until(lambda: holds_open(process.pid, etc / LOCK_NAME), "apply to reach the lock")
        assert process.poll() is None
        assert (etc / "framework.properties").read_bytes() == before
    run = collect(process, args)
    assert run.code == 0, run.output
    assert java_properties(etc / "framework.properties")["aws.credentialProvider"] == "instance"


def test_two_concurrent_applies_cannot_interleave(
    base: Path, java_properties: JavaPropertiesOracle
) -> None:
    """Both plan against the same file and queue on the lock; one writes, the other refuses."""
    etc = base / "etc"
    runs: dict[str, tuple[list[str], subprocess.Popen[str]]] = {}
    with install_lock(etc, wait_seconds=0):
        for method in ("ec2", "ecs"):
            args = ["apply", "--method", method, "--system", "--rdeck-base", str(base), "--yes"]
            runs[method] = (args, popen_cli(*args, stdin=subprocess.DEVNULL))
        for _, process in runs.values():
            wait_until(lambda p=process: holds_open(p.pid, etc / LOCK_NAME),  # type: ignore[misc]
                       "both applies to reach the lock")
    results = {method: collect(process, args) for method, (args, process) in runs.items()}
    codes = sorted(run.code for run in results.values())
    assert codes == [0, 5], {m: r.output for m, r in results.items()}
    (winner,) = [m for m, r in results.items() if r.code == 0]
    (loser,) = [r for r in results.values() if r.code == 5]
    assert "changed since the review; nothing was written" in loser.stderr
    framework = etc / "framework.properties"
    provider = {"ec2": "instance", "ecs": "container"}[winner]
    assert java_properties(framework)["aws.credentialProvider"] == provider
    assert framework.read_bytes().count(b"aws.credentialProvider=") == 1
    record = tomllib.loads((etc / "aws-setup.toml").read_text())
    assert record["method"] == winner
    assert len(list(etc.glob("framework.properties.bak-*"))) == 1


def test_a_change_made_while_waiting_is_not_overwritten(base: Path) -> None:
    etc = base / "etc"
    framework = etc / "framework.properties"
    args = ["apply", "--method", "ec2", "--system", "--rdeck-base", str(base), "--yes", "--json"]
    with install_lock(etc, wait_seconds=0):
        process = popen_cli(*args, stdin=subprocess.DEVNULL)
        wait_until(lambda: holds_open(process.pid, etc / LOCK_NAME), "apply to reach the lock")
        hand_edit = framework.read_bytes() + b"aws.credentialProvider=container\n"
        atomic_write(framework, hand_edit, backup=False)
    run = collect(process, args)
    assert run.code == 5
    assert "changed since the review" in run.json()["error"]
    assert framework.read_bytes() == hand_edit
