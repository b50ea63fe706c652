"""Install discovery, project names and the per-method AWS settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.core.model import Method, Scope
from tui.core.rundeck import (
    InstallNotFoundError,
    ProjectNameError,
    desired_settings,
    find_install,
    setting_key,
    validate_project_name,
)


def make_launcher(base: Path, framework: str = "framework.server.name=x\n") -> Path:
    (base / "etc").mkdir(parents=True)
    (base / "etc" / "framework.properties").write_text(framework)
    return base


def add_project(projects: Path, name: str) -> Path:
    folder = projects / name / "etc"
    folder.mkdir(parents=True)
    (folder / "project.properties").write_text(f"project.name={name}\n")
    return folder / "project.properties"


def test_launcher_layout_from_flag_lists_projects_with_a_file(tmp_path: Path) -> None:
    base = make_launcher(tmp_path / "rd")
    add_project(base / "projects", "ops")
    add_project(base / "projects", "web")
    (base / "projects" / "in-db").mkdir()  # no etc/project.properties: kept in the database
    install = find_install(base, env={})
    assert install.layout == "launcher"
    assert install.framework_properties == base / "etc" / "framework.properties"
    assert install.list_projects() == ["ops", "web"]
    assert install.project_in_database("in-db")
    assert not install.project_in_database("ops")


def test_rdeck_base_environment_variable_is_used(tmp_path: Path) -> None:
    base = make_launcher(tmp_path / "rd")
    assert find_install(env={"RDECK_BASE": str(base)}).base == base


def test_package_layout_prefers_var_lib_and_honours_projects_dir(tmp_path: Path) -> None:
    (tmp_path / "etc/rundeck").mkdir(parents=True)
    (tmp_path / "etc/rundeck/framework.properties").write_text("a=b\n")
    (tmp_path / "var/lib/rundeck/projects").mkdir(parents=True)
    (tmp_path / "var/rundeck/projects").mkdir(parents=True)
    install = find_install(env={}, root=tmp_path)
    assert install.layout == "package"
    assert install.projects_dir == tmp_path / "var/lib/rundeck/projects"

    custom = tmp_path / "srv/projects"
    (tmp_path / "etc/rundeck/framework.properties").write_text(f"framework.projects.dir={custom}\n")
    assert find_install(env={}, root=tmp_path).projects_dir == custom


def test_projects_dir_placeholder_expands_rdeck_base(tmp_path: Path) -> None:
    base = make_launcher(tmp_path / "rd", "framework.projects.dir=${rdeck.base}/p2\n")
    assert find_install(base, env={}).projects_dir == base / "p2"


def test_missing_install_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(InstallNotFoundError, match="--rdeck-base"):
        find_install(env={}, root=tmp_path)
    with pytest.raises(InstallNotFoundError, match="does not exist"):
        find_install(tmp_path / "nope", env={})
    (tmp_path / "empty").mkdir()
    with pytest.raises(InstallNotFoundError, match=r"framework\.properties"):
        find_install(tmp_path / "empty", env={})


@pytest.mark.parametrize("name", ["ops", "Web-1", "a.b", "x_y+z", "9"])
def test_valid_project_names(name: str) -> None:
    assert validate_project_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("..", "separator"),
        ("../etc", "separator"),
        ("a/b", "separator"),
        ("a\\b", "separator"),
        (".hidden", "characters"),
        ("has space", "characters"),
        ("semi;colon", "characters"),
        ("x" * 201, "longer"),
        ("naïve", "characters"),
    ],
)
def test_invalid_project_names_are_refused_with_a_reason(name: str, reason: str) -> None:
    with pytest.raises(ProjectNameError, match=reason):
        validate_project_name(name)


def test_target_never_escapes_projects_dir(tmp_path: Path) -> None:
    install = find_install(make_launcher(tmp_path / "rd"), env={})
    with pytest.raises(ProjectNameError):
        install.target(Scope.PROJECT, "../../etc")
    assert install.target(Scope.SYSTEM, None) == install.framework_properties


def test_each_method_removes_the_other_methods_settings() -> None:
    assert desired_settings(Method.EC2, region=None, access_key_id=None, key_path=None) == {
        "credentialProvider": "instance",
        "access_key": None,
        "secret_key_path": None,
    }
    assert (
        desired_settings(Method.ECS, region="eu-west-1", access_key_id=None, key_path=None)[
            "credentialProvider"
        ]
        == "container"
    )
    access = desired_settings(
        Method.ACCESS_KEY, region=None, access_key_id="AKIA" + "A" * 16, key_path="keys/a"
    )
    assert access["credentialProvider"] is None
    assert access["access_key"] == "AKIA" + "A" * 16
    assert setting_key(Scope.PROJECT, "region") == "project.aws.region"
    assert setting_key(Scope.SYSTEM, "region") == "aws.region"
