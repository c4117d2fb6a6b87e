"""Warehouses by configuration: the README's keys reach dlt for every warehouse (no network).

Each case sets the documented environment variables, builds the pipeline with
``make_pipeline`` exactly as ``pipelines/stripe_pipeline.py --destination NAME --staging
filesystem`` does, and resolves dlt's destination and staging configuration from them
(the warehouse client libraries are not needed for that). A run without credentials
stops with one line naming the keys to set; options a destination cannot honour stop
before any API request.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from pipelines import stripe_pipeline
from pipelines.common import UserFacingError, make_pipeline
from sandbox.stripe import StripeSandbox

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nexample\n-----END PRIVATE KEY-----\n"

WAREHOUSES: dict[str, dict[str, Any]] = {
    "snowflake": {
        "env": {
            "DESTINATION__SNOWFLAKE__CREDENTIALS__DATABASE": "ANALYTICS",
            "DESTINATION__SNOWFLAKE__CREDENTIALS__USERNAME": "LOADER",
            "DESTINATION__SNOWFLAKE__CREDENTIALS__PASSWORD": "example-password",
            "DESTINATION__SNOWFLAKE__CREDENTIALS__HOST": "kgiotue-wn98412",
            "DESTINATION__SNOWFLAKE__CREDENTIALS__WAREHOUSE": "COMPUTE_WH",
            "DESTINATION__SNOWFLAKE__CREDENTIALS__ROLE": "DLT_LOADER_ROLE",
            "DESTINATION__SNOWFLAKE__STAGE_NAME": "STRIPE_STAGE",
        },
        "expect": {
            "database": "ANALYTICS",
            "username": "LOADER",
            "password": "example-password",
            "host": "kgiotue-wn98412",
            "warehouse": "COMPUTE_WH",
            "role": "DLT_LOADER_ROLE",
        },
        "config": {"stage_name": "STRIPE_STAGE"},
        "missing": ["DATABASE", "HOST"],
    },
    "bigquery": {
        "env": {
            "DESTINATION__BIGQUERY__CREDENTIALS__PROJECT_ID": "acme-analytics",
            "DESTINATION__BIGQUERY__CREDENTIALS__CLIENT_EMAIL": "loader@acme.iam.example.com",
            "DESTINATION__BIGQUERY__CREDENTIALS__PRIVATE_KEY": PRIVATE_KEY,
            "DESTINATION__BIGQUERY__LOCATION": "EU",
        },
        "expect": {
            "project_id": "acme-analytics",
            "client_email": "loader@acme.iam.example.com",
            "private_key": PRIVATE_KEY,
        },
        "config": {"location": "EU"},
        "missing": ["PROJECT_ID", "PRIVATE_KEY", "CLIENT_EMAIL"],
    },
    "motherduck": {
        "env": {
            "DESTINATION__MOTHERDUCK__CREDENTIALS__DATABASE": "analytics",
            "DESTINATION__MOTHERDUCK__CREDENTIALS__PASSWORD": "example-motherduck-token",
        },
        "expect": {"database": "analytics", "password": "example-motherduck-token"},
        "staging": False,  # MotherDuck loads parquet directly; dlt has no staging for it
        "missing": ["PASSWORD"],
    },
    "clickhouse": {
        "env": {
            "DESTINATION__CLICKHOUSE__CREDENTIALS__HOST": "ch.example.internal",
            "DESTINATION__CLICKHOUSE__CREDENTIALS__PORT": "9440",
            "DESTINATION__CLICKHOUSE__CREDENTIALS__HTTP_PORT": "8443",
            "DESTINATION__CLICKHOUSE__CREDENTIALS__USERNAME": "loader",
            "DESTINATION__CLICKHOUSE__CREDENTIALS__PASSWORD": "example-password",
            "DESTINATION__CLICKHOUSE__CREDENTIALS__DATABASE": "analytics",
            "DESTINATION__CLICKHOUSE__CREDENTIALS__SECURE": "1",
        },
        "expect": {
            "host": "ch.example.internal",
            "port": 9440,
            "http_port": 8443,
            "username": "loader",
            "password": "example-password",
            "database": "analytics",
            "secure": 1,
        },
        "missing": ["HOST"],
    },
    "databricks": {
        "env": {
            "DESTINATION__DATABRICKS__CREDENTIALS__SERVER_HOSTNAME": "adb-123.azuredatabricks.net",
            "DESTINATION__DATABRICKS__CREDENTIALS__HTTP_PATH": "/sql/1.0/warehouses/abc123",
            "DESTINATION__DATABRICKS__CREDENTIALS__ACCESS_TOKEN": "example-token",
            "DESTINATION__DATABRICKS__CREDENTIALS__CATALOG": "main",
            "DESTINATION__DATABRICKS__STAGING_CREDENTIALS_NAME": "stripe_bucket",
        },
        "expect": {
            "server_hostname": "adb-123.azuredatabricks.net",
            "http_path": "/sql/1.0/warehouses/abc123",
            "access_token": "example-token",
            "catalog": "main",
        },
        "config": {"staging_credentials_name": "stripe_bucket"},
        "missing": ["CATALOG"],
    },
}
NAMES = list(WAREHOUSES)

STAGING_ENV = {
    "DESTINATION__FILESYSTEM__BUCKET_URL": "s3://acme-dlt-staging/stripe",
    "DESTINATION__FILESYSTEM__CREDENTIALS__AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
    "DESTINATION__FILESYSTEM__CREDENTIALS__AWS_SECRET_ACCESS_KEY": "example-secret",
}


def resolve(factory: Any, dataset_name: str) -> Any:
    """Resolves a destination's configuration from dlt config as its client would."""
    initial = factory.spec()
    initial.dataset_name = dataset_name  # what dlt binds before resolving
    return factory.configuration(initial, accept_partial=False)


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_documented_keys_reach_dlt(
    name: str, dlt_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = WAREHOUSES[name]
    for key, value in {**case["env"], **STAGING_ENV}.items():
        monkeypatch.setenv(key, value)
    staged = case.get("staging", True)

    pipeline = make_pipeline(f"wh_{name}", "stripe", name, staging="filesystem" if staged else None)

    destination = pipeline.destination
    assert destination is not None and destination.destination_type.endswith(f".{name}")
    config = resolve(destination, pipeline.dataset_name)
    for field, value in case["expect"].items():
        assert getattr(config.credentials, field) == value, field
    for field, value in case.get("config", {}).items():
        assert getattr(config, field) == value, field
    if not staged:
        assert pipeline.staging is None
        with pytest.raises(UserFacingError, match="takes no staging"):
            make_pipeline(f"wh_{name}_staged", "stripe", name, staging="filesystem")
        return
    staging = pipeline.staging
    assert staging is not None and staging.destination_type.endswith(".filesystem")
    staging_config = resolve(staging, pipeline.dataset_name)
    assert staging_config.bucket_url == "s3://acme-dlt-staging/stripe"
    assert staging_config.credentials.aws_access_key_id == "AKIAEXAMPLE"
    assert staging_config.credentials.aws_secret_access_key == "example-secret"


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_missing_credentials_stop_with_one_line_naming_the_keys(name: str, tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DLT_DATA_DIR": str(tmp_path / "dlt"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    out = subprocess.run(
        [
            sys.executable,
            "pipelines/stripe_pipeline.py",
            "--sandbox",
            "--sandbox-volume",
            "3",
            "--destination",
            name,
            "--resources",
            "coupons",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert out.returncode == 1
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out.stderr[-2000:]
    assert errors[0].startswith(f"error: {name} destination credentials missing: set ")
    prefix = f"DESTINATION__{name.upper()}__CREDENTIALS__"
    for field in WAREHOUSES[name]["missing"]:
        assert f"{prefix}{field}" in errors[0]
        assert f"destination.{name}.credentials.{field.lower()}" in errors[0]
    assert "Traceback" not in out.stderr


REFUSED = {
    "duckdb-staging": ("duckdb", "--staging", "filesystem", "takes no staging"),
    "postgres-staging": ("postgres", "--staging", "filesystem", "takes no staging"),
    "motherduck-staging": ("motherduck", "--staging", "filesystem", "takes no staging"),
    "filesystem-staging": ("filesystem", "--staging", "filesystem", "takes no staging"),
    "postgres-delta": ("postgres", "--table-format", "delta", "does not write delta tables"),
    "duckdb-delta": ("duckdb", "--table-format", "delta", "does not write delta tables"),
}


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
def test_options_a_destination_cannot_honour_stop_before_any_request(
    case: tuple[str, str, str, str],
    stripe_sandbox: StripeSandbox,
    dlt_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    destination, flag, value, reason = case
    monkeypatch.setenv("SOURCES__STRIPE__BASE_URL", stripe_sandbox.base_url)
    monkeypatch.setenv("SOURCES__STRIPE__API_KEY", stripe_sandbox.api_key)

    assert stripe_pipeline.main(["--destination", destination, flag, value]) == 1

    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and reason in err[0] and f"the {destination} destination" in err[0]
    assert stripe_sandbox.stats.requests == 0


RESOLVE_FROM_TOML = """
import json
import tomlkit
from pipelines.common import make_pipeline

with open(".dlt/secrets.toml", encoding="utf-8") as file:
    example = tomlkit.load(file).unwrap()["destination"]
resolved = {}
for name, section in example.items():
    if name == "filesystem":
        continue
    staged = name != "motherduck"
    staging = "filesystem" if staged else None
    pipeline = make_pipeline(f"toml_{name}", "stripe", name, staging=staging)
    out = resolved[name] = {}
    for factory, key in ((pipeline.destination, name), (pipeline.staging, "filesystem")):
        if factory is None:
            continue
        initial = factory.spec()
        initial.dataset_name = "stripe"
        config = factory.configuration(initial, accept_partial=False)
        keys = example[key]
        out[key] = {k: getattr(config, k) for k in keys if k != "credentials"}
        out[key]["credentials"] = {k: getattr(config.credentials, k) for k in keys["credentials"]}
print(json.dumps(resolved, default=str))
"""


def test_example_secrets_toml_blocks_reach_dlt(tmp_path: Path) -> None:
    """The warehouse blocks of .dlt/example.secrets.toml, uncommented, resolve as written."""
    text = (REPO / ".dlt" / "example.secrets.toml").read_text()
    section = text[text.index("# ---- Warehouses") :]
    uncommented = "\n".join(
        line[2:] if re.match(r"# (\[|[a-z_]+ = )", line) else line for line in section.splitlines()
    )
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "secrets.toml").write_text(uncommented)
    example = tomlkit.loads(uncommented).unwrap()["destination"]
    assert set(example) == {*WAREHOUSES, "filesystem"}

    out = subprocess.run(
        [sys.executable, "-c", RESOLVE_FROM_TOML],
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "PYTHONPATH": str(REPO),
            "DLT_DATA_DIR": str(tmp_path / "dlt"),
            "RUNTIME__DLTHUB_TELEMETRY": "false",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert out.returncode == 0, out.stderr[-2000:]
    resolved = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(resolved) == set(WAREHOUSES)
    for name, sections in resolved.items():
        expected_sections = {name} if name == "motherduck" else {name, "filesystem"}
        assert set(sections) == expected_sections, name
        for key, values in sections.items():
            assert values == example[key], (name, key)
