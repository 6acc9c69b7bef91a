"""Service definitions, located problems, edits and derivations: no agent needed."""

from __future__ import annotations

from pathlib import Path

import pytest

import metacircular_mcp as mcp


def test_load_and_read_every_field(examples_dir: Path) -> None:
    d = mcp.ServiceDefinition.load(examples_dir / "services" / "myservice.toml")
    assert (d.name, d.node, d.active) == ("myservice", "rift", True)
    assert d.build_images == {"myservice": "Dockerfile.api", "myservice-web": "Dockerfile.web"}
    api = d.components[0]
    assert api.name == "api"
    assert api.cmd == ["server", "--config", "/srv/myservice/myservice.toml"]
    assert [r.name for r in api.routes] == ["rest", "grpc"]
    assert api.routes[0].mode == "l4" and api.routes[0].port == 8443
    assert d.validate() == []
    assert d == mcp.ServiceDefinition.loads(d.to_toml())
    assert "myservice" in repr(d)


def test_derived_values_and_conventions(examples_dir: Path) -> None:
    d = mcp.ServiceDefinition.load(examples_dir / "services" / "myservice.toml")
    r = d.resolve()
    api, web = r.components
    assert api.container_name == "myservice-api"
    assert api.version == "v1.0.0"
    assert [x.port_env for x in api.routes] == [["PORT_REST"], ["PORT_GRPC"]]
    assert web.routes[0].port_env == ["PORT"]
    assert web.routes[0].hostname == "myservice.svc.mcp.metacircular.net"
    other = d.resolve(zone="apps.example.net", data_root="/data")
    assert other.components[0].routes[0].hostname == "myservice.apps.example.net"
    assert other.data_dir == "/data/myservice"
    with pytest.raises(TypeError):
        d.resolve(colour="blue")
    assert r.to_dict()["components"][0]["routes"][0]["port_env"] == ["PORT_REST"]


def test_every_problem_is_located(examples_dir: Path) -> None:
    with pytest.raises(mcp.SpecError) as e:
        mcp.ServiceDefinition.load(examples_dir / "invalid" / "broken.toml")
    err = e.value
    assert isinstance(err, mcp.McpError)
    assert err.reason == "invalid_input"
    got = [(p.line, p.column, p.rule, p.field) for p in err.problems]
    assert got == [
        (7, 9, "pinned-version", "components[0].image"),
        (8, 1, "unknown-key", "components[0].replicas"),
        (16, 8, "unique-route", "components[0].routes[1].name"),
    ]
    assert err.problems[0].file is not None and err.problems[0].file.endswith("broken.toml")
    assert err.problems[1].to_dict()["message"].startswith("unknown key `replicas`")


def test_loads_reports_syntax_errors() -> None:
    with pytest.raises(mcp.SpecError) as e:
        mcp.ServiceDefinition.loads('name = "x"\nnode = \n')
    assert e.value.problems[0].rule == "syntax"
    assert e.value.problems[0].line == 2


def test_deprecated_keys_warn(examples_dir: Path) -> None:
    d = mcp.ServiceDefinition.load(examples_dir / "services" / "hello.toml")
    legacy = d.to_toml().rstrip() + "\n\n[build]\nuses_mcdsl = true\n"
    with pytest.warns(DeprecationWarning, match=r"build\.uses_mcdsl.*\[build\.images\]"):
        again = mcp.ServiceDefinition.loads(legacy)
    assert again == d


def test_with_version_keeps_comments_and_saves(tmp_path: Path) -> None:
    text = '# mine\nname = "app"  # keep\nnode = "n"\n\n[[components]]\nname = "app"\nimage = "r.example/app:v1.0.0"\n'
    path = tmp_path / "app.toml"
    path.write_text(text)
    d = mcp.ServiceDefinition.load(path)
    d2 = d.with_version("v1.1.0")
    assert d2.text == text.replace("v1.0.0", "v1.1.0")
    assert d2.components[0].image == "r.example/app:v1.1.0"
    # The version is the one it runs, written as a key or in the image's tag.
    assert (d.version, d.components[0].version) == ("v1.0.0", "v1.0.0")
    assert (d2.version, d2.components[0].version) == ("v1.1.0", "v1.1.0")
    two = d.loads(text + '\n[[components]]\nname = "side"\nimage = "r.example/side:v2.0.0"\n')
    assert [c.version for c in two.components] == ["v1.0.0", "v2.0.0"] and two.version is None
    assert d.components[0].image == "r.example/app:v1.0.0", "the original is unchanged"
    d2.save()
    assert mcp.ServiceDefinition.load(path).resolve().components[0].version == "v1.1.0"
    with pytest.raises(mcp.SpecError):
        d.with_version("latest")
    with pytest.raises(mcp.NotFound):
        d.with_version("v2.0.0", component="nope")


def test_load_dir(examples_dir: Path) -> None:
    names = [d.name for d in mcp.load_dir(examples_dir / "services")]
    assert names == ["hello", "mcq", "myservice"]


def test_offline_port_planning() -> None:
    p = mcp.PortPlanner("20000-20002", [20001])
    a = p.lease("web", "api", "rest")
    assert a.port == 20000
    assert p.lease("web", "api", "rest") == a, "a route keeps its port"
    assert p.lease("db", "db").port == 20002
    with pytest.raises(mcp.McpError) as e:
        p.lease("more", "x")
    assert e.value.reason == "exhausted"
    p.release([20000])
    assert p.lease("more", "x").port == 20000


def test_offline_reconcile_planning() -> None:
    desired = [
        mcp.Desired("web", "api", "web-api", "r/web:v2.0.0", spec_hash="h1"),
        mcp.Desired("db", "db", "db", "r/db:v1.0.0"),
    ]
    observed = [
        mcp.Observed("web-api", "r/web:v1.0.0", spec_hash="h0", service="web"),
        mcp.Observed("old", "r/old:v1.0.0", service="gone"),
    ]
    actions = mcp.plan_reconcile(desired, observed)
    assert [(a.kind, a.container) for a in actions] == [("remove", "old"), ("replace", "web-api"), ("create", "db")]
    assert actions[1].reason == "container runs r/web:v1.0.0, not r/web:v2.0.0"


def test_exception_hierarchy() -> None:
    for cls in (mcp.SpecError, mcp.AuthError, mcp.NotFound, mcp.AgentError, mcp.ConnectionError):
        assert issubclass(cls, mcp.McpError)
    assert issubclass(mcp.McpError, Exception)
    assert issubclass(mcp.ConnectionError, ConnectionError), "Python's own too"
    assert mcp.ConnectionError.__module__ == "metacircular_mcp"


def test_a_missing_or_empty_configuration_raises(tmp_path: Path) -> None:
    missing = tmp_path / "mistyped.toml"
    with pytest.raises(mcp.NotFound, match="does not exist") as e:
        mcp.Client.from_config(str(missing))
    assert str(missing) in str(e.value) and e.value.reason == "not_found"
    empty = tmp_path / "mcp.toml"
    empty.write_text("")
    with pytest.raises(mcp.NotFound, match="configures no nodes"):
        mcp.Client.from_config(empty)
    no_ca = tmp_path / "no-ca.pem"
    with pytest.raises(mcp.NotFound, match="agent CA .* does not exist") as e:
        mcp.Client.connect("n", ["127.0.0.1:1"], no_ca, "token")
    assert e.value.reason == "not_found"
    empty.write_text(f'[[nodes]]\nname = "n"\naddress = "127.0.0.1:1"\n\n[tls]\nca_cert = "{no_ca}"\n')
    with pytest.raises(mcp.NotFound, match="agent CA .* does not exist"):
        mcp.Client.from_config(empty).status("web", timeout=5)


def test_the_module_says_its_version() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "metacircular_mcp", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"metacircular_mcp {mcp.__version__}"


def test_planning_values_are_checked_and_shown() -> None:
    with pytest.raises(ValueError, match="bogus"):
        mcp.Observed("web", "img", state="bogus")
    o = mcp.Observed("web", "img", state="exited", service="web")
    assert repr(o) == 'Observed(name="web", image="img", state="exited", spec_hash=None, service="web", component=None)'
    d = mcp.Desired("web", "web", "web", "img")
    assert repr(d).startswith('Desired(service="web"') and "run=True" in repr(d)
    assert repr(mcp.PortPlanner("10000-10009", [10001])) == 'PortPlanner(range="10000-10009", leased=1)'


def test_every_result_class_can_be_read_back_from_a_pickle() -> None:
    # Each result class pickles through _restore, which names every class again.
    results = [c for c in vars(mcp).values() if isinstance(c, type) and hasattr(c, "to_json")]
    assert len(results) > 20
    for cls in results:
        with pytest.raises(ValueError, match="not a pickled result"):
            mcp._native._restore(cls.__name__, b"")
    with pytest.raises(ValueError, match="no result class"):
        mcp._native._restore("Nothing", b"")
