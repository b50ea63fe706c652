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
from tui.core.answers import ANSWER_FIELDS, command_line, dump_answers
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
DEFAULT_SYSTEM_KEY_PATH = "keys/aws/secret-key"
ENVELOPE = ["schema_version", "version", "command", "exit_code", "ok", "changed"]
READ_SYSCALL = {"x86_64": 0, "aarch64": 63}
SLEEP_SYSCALL = {"x86_64": 230, "aarch64": 115}  # clock_nanosleep
STALE_SETTING = b"# An old setting of another method, left by hand:\n" + (
    b"project.aws.credentialProvider=instance\n"
)
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
        assert isinstance(document["changed"], bool)
        return document


def finish(args: Sequence[str], code: int, stdout: str, stderr: str, hidden: Sequence[str]) -> Run:
    """A Run, once its output is proven free of every secret and of tracebacks."""
    run = Run(list(args), code, stdout, stderr)
    for secret in hidden:
        # Booleans first, so a failure report does not print the secret either.
        leaked = secret in run.output
        assert not leaked, f"a secret appeared in the output of {run.args[:1]}"
        folded = secret.lower() in run.output.lower()
        assert not folded, f"a case-folded secret appeared in the output of {run.args[:1]}"
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
    completed = subprocess.run(
        [*prefix, *program, *args],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=dict(os.environ if env is None else env),
        cwd=REPO,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    return finish(args, completed.returncode, completed.stdout, completed.stderr, hidden)


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
    return finish(args, process.returncode, stdout, stderr, (SECRET, OTHER_SECRET))


def apply_args(
    base: Path, method: str, *extra: str, project: str | None = None, key_id: str = KEY_ID
) -> list[str]:
    """``apply`` of ``method`` at system scope (or ``project``) on ``base``, then ``extra``."""
    args = ["apply", "--method", method]
    args += ["--project", project] if project else ["--system"]
    if method == "access-key":
        args += ["--access-key-id", key_id]
    return [*args, "--rdeck-base", str(base), *extra]


def tree(root: Path) -> dict[str, tuple[bytes | None, int | None, int]]:
    """Every path under ``root`` with its bytes, mtime and mode: to prove nothing changed.

    A folder's mtime is left out: it moves when a lock file comes and goes, and the entries
    themselves are listed anyway.
    """
    found: dict[str, tuple[bytes | None, int | None, int]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        data = path.read_bytes() if stat.S_ISREG(info.st_mode) else None
        mtime = None if stat.S_ISDIR(info.st_mode) else info.st_mtime_ns
        found[str(path.relative_to(root))] = (data, mtime, info.st_mode)
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
    """Poll another process's state until ``condition`` holds, failing after a deadline."""
    deadline = time.monotonic() + WAIT_DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.01)  # polling another process: there is nothing to block on


def current_syscall(pid: int) -> list[str]:
    """The system call ``pid`` is blocked in, with its arguments (``/proc/<pid>/syscall``)."""
    try:
        return Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:
        return []


def blocked_reading_stdin(pid: int) -> bool:
    """True when ``pid`` sits in read(0, …): it is waiting for the secret on stdin."""
    fields = current_syscall(pid)
    number = READ_SYSCALL.get(os.uname().machine)
    return len(fields) > 1 and fields[0] == str(number) and int(fields[1], 16) == 0


def waiting_for_the_lock(pid: int) -> bool:
    """True when an ec2/ecs apply sleeps: the lock's poll loop is its only sleep.

    By then it has planned against the file as it was, so what it finds after the wait counts.
    """
    return current_syscall(pid)[:1] == [str(SLEEP_SYSCALL.get(os.uname().machine))]


def target_of(base: Path, project: str | None) -> Path:
    if project is None:
        return base / "etc" / "framework.properties"
    return base / "projects" / project / "etc" / "project.properties"


def other_lines(data: bytes) -> list[bytes]:
    """The lines that are not AWS settings: comments, unrelated keys, blank lines."""
    return [line for line in data.splitlines() if not line.startswith((b"aws.", b"project.aws."))]


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


def record_of(target: Path) -> dict[str, Any]:
    return tomllib.loads((target.parent / "aws-setup.toml").read_text())


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A launcher-layout Rundeck (projects ops and web); ops still has an EC2 role setting."""
    rundeck = make_rundeck_layout(tmp_path)
    with target_of(rundeck, "ops").open("ab") as handle:
        handle.write(STALE_SETTING)
    return rundeck


@pytest.fixture
def keyring_session(secret_service_clean: SecretServiceSession) -> SecretServiceSession:
    """The private gnome-keyring, unlocked and empty; child processes inherit its bus."""
    return secret_service_clean


# --- help and version ----------------------------------------------------------------------


def test_version_names_the_tool_and_its_version() -> None:
    run = cli("--version")
    assert run.code == 0
    assert run.stdout.strip() == f"pa-aws-setup {__version__}"


@pytest.mark.parametrize("command", [[], ["detect"], ["apply"], ["status"], ["rotate"]])
def test_help_everywhere_has_examples(command: list[str]) -> None:
    run = cli(*command, "--help")
    assert run.code == 0, run.output
    assert run.stdout.startswith(" ".join(["usage: pa-aws-setup", *command]))
    assert "examples:\n  pa-aws-setup" in run.stdout


def test_apply_help_lists_every_option_and_every_way_to_pass_the_secret() -> None:
    text = cli("apply", "--help").stdout
    options = """--method {ec2,ecs,access-key}|--system|--project NAME|--region R|--access-key-id ID
        |--key-path keys/...|--rdeck-base DIR|--answers FILE.toml|--secret-stdin|--secret-file FILE
        |--dry-run|--verify|--yes|--json|--paste-file FILE|PA_AWS_SECRET_ACCESS_KEY
        |--allow-insecure-keyring"""
    for option in options.split("|"):
        assert option.strip() in text, option
    assert "--secret " not in text


def test_main_help_documents_every_exit_code() -> None:
    text = " ".join(cli("--help").stdout.split())
    codes = """0 done or nothing to do|2 usage|3 verification failed|4 keyring unavailable or
        locked|5 config not writable or invalid|6 AWS refused"""
    for code in codes.split("|"):
        assert " ".join(code.split()) in text


# --- three methods, two scopes, from flags or an answers file ------------------------------


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
    key_id = KEY_ID if access_key else None
    answers = Answers(Method(method), scope, project, REGION, key_id, key_path)
    if source == "flags":
        args = apply_args(base, method, "--region", REGION, project=project)
        args += ["--key-path", str(key_path)] if access_key else []
    else:
        answers_file = tmp_path / "answers.toml"
        answers_file.write_text(dump_answers(answers, rdeck_base=str(base)))
        args = ["apply", "--answers", str(answers_file)]
    args += ["--secret-stdin"] if access_key else []
    run = cli(*args, "--yes", "--json", input=SECRET if access_key else None)

    assert run.code == 0, run.output
    document = run.json()
    assert (document["changed"], document["dry_run"]) == (True, False)
    assert [document["method"], document["scope"], document["project"]] == [
        method,
        str(scope),
        project,
    ]
    assert document["target"] == str(target)
    assert java_properties(target) == expected_after(before, scope, method, key_path)
    assert other_lines(target.read_bytes()) == other_lines(before_bytes)
    assert Path(document["backup"]).read_bytes() == before_bytes
    record = record_of(target)
    assert [record["method"], record["scope"], record["region"]] == [method, str(scope), REGION]
    assert [record.get("access_key_id"), record.get("key_path")] == [key_id, key_path]
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
    assert set(tomllib.loads(answers_file.read_text())) <= set(ANSWER_FIELDS)
    second = cli("apply", "--answers", str(answers_file), "--secret-stdin", "--yes", input=SECRET)
    assert (first.code, second.code) == (0, 0), first.output + second.output
    flags_target, file_target = target_of(by_flags, "ops"), target_of(by_file, "ops")
    assert flags_target.read_bytes() == file_target.read_bytes()
    assert java_properties(file_target)["project.aws.access_key"] == KEY_ID

    def comparable(target: Path) -> dict[str, Any]:
        varying = ("properties_file", "created_at", "updated_at")
        return {k: v for k, v in record_of(target).items() if k not in varying}

    assert comparable(flags_target) == comparable(file_target)


def test_flags_override_the_answers_file(
    base: Path, tmp_path: Path, java_properties: JavaPropertiesOracle
) -> None:
    answers_file = tmp_path / "answers.toml"
    answers = Answers(Method.EC2, Scope.PROJECT, "web", "us-east-1")
    answers_file.write_text(dump_answers(answers, rdeck_base="/nowhere"))
    web_before = tree(base / "projects" / "web")
    run = cli(*apply_args(base, "ecs", "--answers", str(answers_file), "--region", REGION, "--yes"))
    assert run.code == 0, run.output
    loaded = java_properties(base / "etc" / "framework.properties")
    assert loaded["aws.credentialProvider"] == "container"
    assert loaded["aws.region"] == REGION
    assert tree(base / "projects" / "web") == web_before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (f'method = "access-key"\nsecret_access_key = "{SECRET}"\n', "has a secret field"),
        (f'method = "access-key"\nSecret = "{SECRET}"\n', "has a secret field (Secret)"),
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
    args = ["apply", "--answers", str(answers_file), "--rdeck-base", str(base)]
    run = cli(*args, "--yes", "--json")
    assert run.code == 2
    assert message in run.json()["error"]
    assert tree(base) == before


def test_a_missing_answers_file_is_a_usage_error(base: Path, tmp_path: Path) -> None:
    run = cli("apply", "--answers", str(tmp_path / "absent.toml"), "--rdeck-base", str(base))
    assert run.code == 2
    assert "absent.toml does not exist" in run.stderr


# --- dry run, confirmation, terminals -------------------------------------------------------


def test_dry_run_prints_plan_and_diff_and_changes_nothing(
    base: Path, keyring_session: SecretServiceSession
) -> None:
    before = tree(base)
    args = apply_args(base, "access-key", "--region", REGION, "--secret-stdin", project="ops")
    run = cli(*args, "--dry-run", input=SECRET)
    assert run.code == 0, run.output
    expected = f"""\
--- project.properties (current)
+++ project.properties (new)
@@ -7,4 +7,6 @@
 resources.source.1.config.filter=tag\\:Team\\=ops
 project.ssh-keypath=/var/lib/rundeck/.ssh/id_rsa
 # An old setting of another method, left by hand:
-project.aws.credentialProvider=instance
+project.aws.access_key={KEY_ID}
+project.aws.secret_key_path=keys/project/ops/aws/secret-key
+project.aws.region={REGION}
keyring: store the secret as a Rundeck password at keys/project/ops/aws/secret-key"""
    assert run.stdout.startswith(expected)
    assert "warning: Removes project.aws.credentialProvider" in run.stdout
    assert run.stdout.endswith("Dry run: nothing was changed.\n")
    assert "\x1b[" not in run.output
    assert tree(base) == before
    assert stored_items(keyring_session) == 0


def test_dry_run_json_carries_the_diff(base: Path) -> None:
    before = tree(base)
    run = cli(*apply_args(base, "ec2", "--dry-run", "--json"))
    document = run.json()
    assert (document["changed"], document["dry_run"]) == (False, True)
    assert "+aws.credentialProvider=instance\n" in document["diff"]
    assert "steps" not in document
    assert tree(base) == before


def test_without_yes_and_without_a_terminal_nothing_is_written(
    base: Path, keyring_session: SecretServiceSession
) -> None:
    before = tree(base)
    run = cli(*apply_args(base, "access-key", "--secret-stdin"), input=SECRET)
    assert run.code == 2
    assert "stdin is not a terminal, so pass --yes" in run.stderr
    assert tree(base) == before
    assert stored_items(keyring_session) == 0


@pytest.mark.parametrize(("reply", "applied"), [("n\n", False), ("y\n", True)])
def test_on_a_terminal_apply_asks_first(
    reply: str, applied: bool, base: Path, java_properties: JavaPropertiesOracle
) -> None:
    args = apply_args(base, "ec2")
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
        loaded = java_properties(base / "etc" / "framework.properties")
        assert loaded["aws.credentialProvider"] == "instance"
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
            [sys.executable, "-m", "tui", *apply_args(base, "ec2", "--dry-run")],
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=REPO,
        )
        os.close(terminal)
        terminal = -1
        shown = read_terminal(controller)
        assert process.wait(timeout=RUN_TIMEOUT) == 0
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    assert "aws.credentialProvider=instance" in shown
    assert ("\x1b[32m+aws.credentialProvider=instance" in shown) is not no_color
    assert ("\x1b[" in shown) is not no_color


# --- the secret: where it may come from, and where it must never be -----------------------


def test_secret_from_a_private_file(base: Path, tmp_path: Path, keystore: KeyStore) -> None:
    secret_file = tmp_path / "aws-secret"
    secret_file.write_text(SECRET + "\n")
    secret_file.chmod(0o600)
    run = cli(*apply_args(base, "access-key", "--secret-file", str(secret_file), "--yes"))
    assert run.code == 0, run.output
    assert keystore.get(DEFAULT_SYSTEM_KEY_PATH) == Secret(SECRET)


def test_secret_file_readable_by_others_is_refused(
    base: Path, tmp_path: Path, keyring_session: SecretServiceSession
) -> None:
    secret_file = tmp_path / "aws-secret"
    secret_file.write_text(SECRET)
    secret_file.chmod(0o644)
    before = tree(base)
    run = cli(*apply_args(base, "access-key", "--secret-file", str(secret_file), "--yes"))
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
        args = apply_args(base, "access-key", "--secret-file", f"/dev/fd/{reader}", "--yes")
        process = popen_cli(*args, stdin=subprocess.DEVNULL, pass_fds=(reader,))
        run = collect(process, args)
    finally:
        os.close(reader)
        if writer >= 0:
            os.close(writer)
    assert run.code == 0, run.output
    assert keystore.get(DEFAULT_SYSTEM_KEY_PATH) == Secret(SECRET)


# Runs ``main`` as ``python -m tui`` would, then asks a grandchild whether it inherited the
# variable; names only are printed, never values.
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
    program = [sys.executable, "-c", GRANDCHILD_PROBE]
    run = cli(*apply_args(base, "access-key", "--yes"), env=env, program=program)
    assert run.code == 0, run.output
    assert "own environment: clean" in run.stderr
    assert "grandchild environment: clean" in run.stderr
    assert keystore.get(DEFAULT_SYSTEM_KEY_PATH) == Secret(SECRET)


def test_secret_is_not_in_the_command_line_of_a_running_apply(
    base: Path, keystore: KeyStore
) -> None:
    args = apply_args(base, "access-key", "--secret-stdin", "--yes", "--json", project="ops")
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
    assert run.json()["changed"] is True
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
    args = apply_args(base, "access-key", "--secret-stdin", "--yes", "--json")
    run = cli(*args, input=given, hidden=[SECRET[:-1]])
    assert run.code == 2
    assert message in run.json()["error"]
    assert tree(base) == before
    assert stored_items(keyring_session) == 0


def test_no_secret_anywhere_is_a_usage_error(
    base: Path, keyring_session: SecretServiceSession
) -> None:
    before = tree(base)
    run = cli(*apply_args(base, "access-key", "--yes"))
    assert run.code == 2
    assert f"No secret given and none stored at {DEFAULT_SYSTEM_KEY_PATH}" in run.stderr
    assert tree(base) == before


@pytest.mark.parametrize(
    "misplaced",
    [
        ["--project", SECRET],
        ["--project", SECRET.replace("/", "x")],
        ["--system", "--region", SECRET],
    ],
    ids=["project-with-slash", "project-name-shaped", "region"],
)
def test_a_secret_pasted_into_another_option_is_not_echoed(
    misplaced: list[str], base: Path
) -> None:
    """A secret typed into the wrong option is already in ``ps``; it must not reach logs too."""
    hidden = [SECRET, SECRET.replace("/", "x")]
    run = cli("apply", "--method", "ec2", *misplaced, "--rdeck-base", str(base), hidden=hidden)
    assert run.code in (2, 5)  # usage, or a project with no file that is not asked for


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
        "not one this version of botocore knows",
    ),
    "key-path-slash": (
        ["--method", "access-key", "--system", "--access-key-id", KEY_ID, "--key-path", "/keys/a"],
        "without the leading '/'",
    ),
    "key-path-other-project": (
        [
            "--method",
            "access-key",
            "--project",
            "ops",
            "--access-key-id",
            KEY_ID,
            "--key-path",
            "keys/project/web/aws/key",
        ],
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
    "unknown-flag": (
        ["--method", "ec2", "--system", "--frobnicate"],
        "unrecognized arguments: --frobnicate",
    ),
    "secret-option": (
        ["--method", "access-key", "--system", "--secret", SECRET],
        "--secret is refused: a secret on the command line is visible to every user in `ps`",
    ),
    "secret-option-equals": (
        ["--method", "access-key", "--system", f"--secret={SECRET}"],
        "--secret is refused",
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


def test_secret_option_refusal_says_what_to_use_instead() -> None:
    run = cli("apply", "--method", "access-key", "--system", "--secret", SECRET, "--json")
    assert run.code == 2
    for remedy in ("--secret-stdin", "--secret-file FILE", "PA_AWS_SECRET_ACCESS_KEY"):
        assert remedy in run.stderr


# --- verification (exit 3) -------------------------------------------------------------------


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
    args = apply_args(
        base, "access-key", "--secret-stdin", "--verify", "--yes", key_id=iam_key.access_key_id
    )
    run = cli(*args, "--json", input=iam_key.secret, hidden=[iam_key.secret])
    assert run.code == 0, run.output
    assert run.json()["identity"]["arn"] == iam_key.user_arn
    loaded = java_properties(base / "etc" / "framework.properties")
    assert loaded["aws.access_key"] == iam_key.access_key_id
    assert keystore.get(DEFAULT_SYSTEM_KEY_PATH) == Secret(iam_key.secret)
    plain = cli(*args, input=iam_key.secret, hidden=[iam_key.secret])
    assert plain.code == 0, plain.output
    assert plain.stdout.splitlines()[-1] == "No changes: already set up."


def test_verify_prints_who_aws_says_the_key_belongs_to(
    base: Path, iam_key: IamKey, keyring_session: SecretServiceSession
) -> None:
    args = apply_args(
        base, "access-key", "--secret-stdin", "--verify", "--yes", key_id=iam_key.access_key_id
    )
    run = cli(*args, input=iam_key.secret, hidden=[iam_key.secret])
    assert run.code == 0, run.output
    assert f"Verified with AWS STS: {iam_key.user_arn}" in run.stdout
    assert stored_items(keyring_session) == 1


def sts_env(url: str) -> dict[str, str]:
    return {**os.environ, "AWS_ENDPOINT_URL": url, "AWS_ENDPOINT_URL_STS": url}


def test_verify_against_an_unreachable_sts_exits_3_and_writes_nothing(
    base: Path, closed_port: LoopbackPort, keyring_session: SecretServiceSession
) -> None:
    before = tree(base)
    args = apply_args(base, "access-key", "--secret-stdin", "--verify", "--yes", project="ops")
    run = cli(*args, "--json", input=SECRET, env=sts_env(closed_port.url))
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
    args = apply_args(base, "access-key", "--secret-stdin", "--verify", "--yes")
    run = cli(*args, input=SECRET, env=sts_env(sts.url))
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
    args = apply_args(base, "access-key", "--secret-stdin", "--dry-run")
    unverified = cli(*args, input=SECRET, env=sts_env(closed_port.url))
    assert unverified.code == 0, unverified.output
    verified = cli(*args, "--verify", input=SECRET, env=sts_env(closed_port.url))
    assert verified.code == 3, verified.output
    assert "Could not reach AWS" in verified.stderr
    assert tree(base) == before
    assert stored_items(keyring_session) == 0


# --- keyring (exit 4) ------------------------------------------------------------------------


def test_no_session_bus_exits_4_and_changes_nothing(base: Path, no_session_bus: object) -> None:
    before = tree(base)
    args = apply_args(base, "access-key", "--secret-stdin", "--yes", "--json")
    run = cli(*args, input=SECRET)
    assert run.code == 4, run.output
    assert "gnome-keyring-daemon --unlock" in run.json()["error"]
    assert tree(base) == before


def test_roles_need_no_keyring(
    base: Path, no_session_bus: object, java_properties: JavaPropertiesOracle
) -> None:
    run = cli(*apply_args(base, "ecs", "--yes"))
    assert run.code == 0, run.output
    loaded = java_properties(base / "etc" / "framework.properties")
    assert loaded["aws.credentialProvider"] == "container"


def test_locked_keyring_exits_4_and_changes_nothing(
    base: Path, locked_keyring: SecretServiceSession
) -> None:
    before = tree(base)
    run = cli(
        *apply_args(base, "access-key", "--secret-stdin", "--yes", project="ops"), input=SECRET
    )
    assert run.code == 4, run.output
    assert "is locked" in run.stderr
    # Found before anything was done (the plan checks the keyring): nothing to roll back.
    assert "Nothing was changed." in run.stderr
    assert "rolled back" not in run.stderr
    assert tree(base) == before
    assert locked_keyring.is_locked()
    locked_keyring.unlock()
    assert stored_items(locked_keyring) == 0


PLAINTEXT_BACKEND = """\
import json, os
from pathlib import Path
import keyring.backend


class Keyring(keyring.backend.KeyringBackend):
    priority = 1
    store = Path(os.environ["PLAIN_KEYRING_FILE"])

    def _items(self):
        return json.loads(self.store.read_text()) if self.store.exists() else {}

    def get_password(self, service, username):
        return self._items().get(service + "/" + username)

    def set_password(self, service, username, password):
        items = self._items()
        items[service + "/" + username] = password
        self.store.write_text(json.dumps(items))

    def delete_password(self, service, username):
        items = self._items()
        del items[service + "/" + username]
        self.store.write_text(json.dumps(items))
"""


def plaintext_keyring_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose keyring backend stores secrets in plain JSON, and that file."""
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "plaintext_keyring.py").write_text(PLAINTEXT_BACKEND)
    store = tmp_path / "plain-keyring.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(modules),
        "PYTHON_KEYRING_BACKEND": "plaintext_keyring.Keyring",
        "PLAIN_KEYRING_FILE": str(store),
    }
    return env, store


@pytest.mark.parametrize("allowed", [False, True])
def test_a_plaintext_keyring_needs_allow_insecure_keyring(
    allowed: bool, base: Path, tmp_path: Path
) -> None:
    env, store = plaintext_keyring_env(tmp_path)
    before = tree(base)
    opt_in = ["--allow-insecure-keyring"] if allowed else []
    args = apply_args(base, "access-key", "--secret-stdin", "--yes", *opt_in)
    run = cli(*args, input=SECRET, env=env)
    if allowed:
        assert run.code == 0, run.output
        assert "warning: The keyring backend" in run.stdout and "plain file" in run.stdout
        assert json.loads(store.read_text()) == {f"{SERVICE}/{DEFAULT_SYSTEM_KEY_PATH}": SECRET}
        assert files_holding(base, SECRET) == []
    else:
        assert run.code == 4, run.output
        assert "--allow-insecure-keyring to accept this" in run.stderr
        assert not store.exists()
        assert tree(base) == before


# --- configuration (exit 5) ------------------------------------------------------------------


def test_binary_framework_properties_exits_5(base: Path) -> None:
    framework = base / "etc" / "framework.properties"
    framework.write_bytes(b"framework.server.name=x\n\x00\x01\x02binary")
    before = tree(base)
    run = cli(*apply_args(base, "ec2", "--yes"))
    assert run.code == 5, run.output
    assert "looks binary (it contains NUL bytes)" in run.stderr
    assert tree(base) == before


def test_missing_install_folder_exits_5(tmp_path: Path) -> None:
    run = cli(*apply_args(tmp_path / "nowhere", "ec2", "--yes", "--json"))
    assert run.code == 5
    assert f"The Rundeck base folder {tmp_path / 'nowhere'} does not exist" in run.json()["error"]
    assert not (tmp_path / "nowhere").exists()


def test_folder_without_framework_properties_exits_5(tmp_path: Path) -> None:
    run = cli(*apply_args(tmp_path, "ec2", "--yes"))
    assert run.code == 5
    assert f"is {tmp_path} a Rundeck base folder" in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_properties_java_refuses_exits_5(base: Path, java_properties: JavaPropertiesOracle) -> None:
    target = target_of(base, "ops")
    with target.open("ab") as handle:
        handle.write(b"broken=\\uZZZZ\n")
    with pytest.raises(JavaLoadError):
        java_properties(target)
    before = tree(base)
    run = cli(*apply_args(base, "ec2", "--yes", project="ops"))
    assert run.code == 5, run.output
    assert "malformed \\uXXXX escape" in run.stderr
    assert tree(base) == before


def test_symlink_out_of_the_install_exits_5(base: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.properties"
    outside.write_bytes(b"unrelated.setting=1\n")
    target = target_of(base, "ops")
    target.unlink()
    target.symlink_to(outside)
    before = tree(base), outside.read_bytes()
    run = cli(*apply_args(base, "ec2", "--yes", project="ops"))
    assert run.code == 5, run.output
    assert f"is a symbolic link to {outside}, outside the Rundeck install" in run.stderr
    assert (tree(base), outside.read_bytes()) == before


def read_only_mount(folder: Path) -> list[str]:
    """A command prefix that mounts ``folder`` read-only for one command, in its own namespace.

    Root ignores file modes, so for root only a read-only mount makes a folder unwritable.
    """
    if shutil.which("unshare") is None:
        pytest.skip("root ignores file modes, and unshare (util-linux) is not installed")
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("root ignores file modes, and this sandbox refuses mount namespaces")
    script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, str(folder)]


def test_unwritable_configuration_exits_5(base: Path) -> None:
    """A genuinely unwritable etc folder: a read-only bind mount for root, modes otherwise."""
    etc = base / "etc"
    as_root = os.geteuid() == 0
    prefix = read_only_mount(etc) if as_root else []
    if not as_root:
        etc.chmod(0o555)
    before = tree(base)
    try:
        run = cli(*apply_args(base, "ec2", "--yes"), prefix=prefix)
    finally:
        etc.chmod(0o755)
    assert run.code == 5, run.output
    assert f"Cannot create the lock file {etc / LOCK_NAME}" in run.stderr
    assert ("Read-only file system" if as_root else "Permission denied") in run.stderr
    assert tree(base) == before


def test_a_failed_write_rolls_back_file_and_keyring(
    base: Path, keyring_session: SecretServiceSession
) -> None:
    """The record cannot be written (a folder sits at its path) after the properties file was."""
    target = target_of(base, "ops")
    before_bytes = target.read_bytes()
    (target.parent / "aws-setup.toml").mkdir()
    run = cli(
        *apply_args(base, "access-key", "--secret-stdin", "--yes", project="ops"), input=SECRET
    )
    assert run.code == 5, run.output
    assert "aws-setup.toml is not a regular file." in run.stderr
    assert "Everything was rolled back." in run.stderr
    assert target.read_bytes() == before_bytes
    assert sorted(p.name for p in target.parent.iterdir()) == [
        "aws-setup.toml",
        "project.properties",
    ]
    assert stored_items(keyring_session) == 0


# --- database projects, idempotency, concurrency ---------------------------------------------


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
    extra = ["--region", REGION, "--paste-file", str(paste_file), "--yes", "--json"]
    run = cli(*apply_args(base, method, *extra, project="billing"))
    assert run.code == 0, run.output
    document = run.json()
    assert (document["changed"], document["database_project"]) == (False, True)
    assert "Edit Configuration File" in document["message"]
    assert document["paste_lines"] == paste_file.read_text()
    expected = {"project.aws.region": REGION}
    if method == "access-key":
        key_path = "keys/project/billing/aws/secret-key"
        expected |= {"project.aws.access_key": KEY_ID, "project.aws.secret_key_path": key_path}
        assert key_path in document["message"]
    else:
        expected["project.aws.credentialProvider"] = "instance"
    assert java_properties(paste_file) == expected
    assert tree(base) == before
    assert stored_items(keyring_session) == 0


@pytest.mark.parametrize("method", ["ec2", "access-key"])  # ecs takes the ec2 code path
def test_applying_twice_changes_nothing_the_second_time(
    method: str, base: Path, keyring_session: SecretServiceSession
) -> None:
    extra = ["--secret-stdin"] if method == "access-key" else []
    args = apply_args(base, method, "--region", REGION, *extra, "--yes", project="ops")
    secret = SECRET if method == "access-key" else None
    first = cli(*args, input=secret)
    assert first.code == 0 and "Done:" in first.stdout, first.output
    after_first = tree(base)
    assert len(list(base.rglob("*.bak-*"))) == 1
    second = cli(*args, "--json", input=secret)
    assert second.code == 0, second.output
    document = second.json()
    assert (document["changed"], document["diff"]) == (False, "")
    assert document["message"] == "No changes: already set up."
    assert tree(base) == after_first
    third = cli(*args, input=secret)
    assert third.stdout.splitlines()[-1] == "No changes: already set up."
    assert "---" not in third.stdout
    assert tree(base) == after_first
    assert stored_items(keyring_session) == (1 if method == "access-key" else 0)


def test_a_new_secret_alone_replaces_the_keyring_item(base: Path, keystore: KeyStore) -> None:
    args = apply_args(base, "access-key", "--secret-stdin", "--yes")
    assert cli(*args, input=SECRET).code == 0
    framework = base / "etc" / "framework.properties"
    written = framework.read_bytes()
    run = cli(*args, input=OTHER_SECRET)
    assert run.code == 0, run.output
    assert "keyring: replace the secret" in run.stdout
    assert keystore.get(DEFAULT_SYSTEM_KEY_PATH) == Secret(OTHER_SECRET)
    assert framework.read_bytes() == written


def test_apply_waits_for_the_lock_then_fails_clearly(base: Path) -> None:
    etc = base / "etc"
    before = (etc / "framework.properties").read_bytes()
    args = apply_args(base, "ec2", "--yes")
    with install_lock(etc, wait_seconds=0):
        run = collect(popen_cli(*args, stdin=subprocess.DEVNULL), args)
    assert run.code == 5, run.output
    assert f"Another pa-aws-setup run holds {etc / LOCK_NAME}" in run.stderr
    assert (etc / "framework.properties").read_bytes() == before


def test_apply_waits_for_the_lock_then_writes(
    base: Path, java_properties: JavaPropertiesOracle
) -> None:
    etc = base / "etc"
    before = (etc / "framework.properties").read_bytes()
    args = apply_args(base, "ec2", "--yes")
    with install_lock(etc, wait_seconds=0):
        process = popen_cli(*args, stdin=subprocess.DEVNULL)
        wait_until(lambda: waiting_for_the_lock(process.pid), "apply to wait for the lock")
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
            args = apply_args(base, method, "--yes")
            runs[method] = (args, popen_cli(*args, stdin=subprocess.DEVNULL))
        for _, process in runs.values():
            pid = process.pid
            wait_until(lambda pid=pid: waiting_for_the_lock(pid), "both applies to wait")  # type: ignore[misc]
    results = {method: collect(process, args) for method, (args, process) in runs.items()}
    assert sorted(run.code for run in results.values()) == [0, 5], results
    (winner,) = [method for method, run in results.items() if run.code == 0]
    (loser,) = [run for run in results.values() if run.code == 5]
    assert "changed since the review; nothing was written" in loser.stderr
    framework = etc / "framework.properties"
    provider = {"ec2": "instance", "ecs": "container"}[winner]
    assert java_properties(framework)["aws.credentialProvider"] == provider
    assert framework.read_bytes().count(b"aws.credentialProvider=") == 1
    assert record_of(framework)["method"] == winner
    assert len(list(etc.glob("framework.properties.bak-*"))) == 1


def test_a_change_made_while_waiting_is_not_overwritten(base: Path) -> None:
    etc = base / "etc"
    framework = etc / "framework.properties"
    args = apply_args(base, "ec2", "--yes", "--json")
    with install_lock(etc, wait_seconds=0):
        process = popen_cli(*args, stdin=subprocess.DEVNULL)
        wait_until(lambda: waiting_for_the_lock(process.pid), "apply to wait for the lock")
        hand_edit = framework.read_bytes() + b"aws.credentialProvider=container\n"
        atomic_write(framework, hand_edit, backup=False)
    run = collect(process, args)
    assert run.code == 5
    assert "changed since the review" in run.json()["error"]
    assert framework.read_bytes() == hand_edit
