"""Warehouses by configuration: the README's keys reach dlt for every warehouse (no network).

Each case sets the documented environment variables, builds the pipeline the way
``pipelines/stripe.py --destination NAME --staging filesystem`` does, and resolves dlt's
destination and staging configuration from them. A run without credentials stops
with one line naming the key to set.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import dlt
import pytest

from pipelines.common import make_destination

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
        },
        "expect": {"database": "ANALYTICS", "username": "LOADER", "warehouse": "COMPUTE_WH"},
    },
    "bigquery": {
        "env": {
            "DESTINATION__BIGQUERY__CREDENTIALS__PROJECT_ID": "acme-analytics",
            "DESTINATION__BIGQUERY__CREDENTIALS__CLIENT_EMAIL": "loader@acme.iam.example.com",
            "DESTINATION__BIGQUERY__CREDENTIALS__PRIVATE_KEY": PRIVATE_KEY,
            "DESTINATION__BIGQUERY__LOCATION": "EU",
        },
        "expect": {"project_id": "acme-analytics"},
        "config": {"location": "EU"},
    },
    "motherduck": {
        "env": {
            "DESTINATION__MOTHERDUCK__CREDENTIALS__DATABASE": "analytics",
            "DESTINATION__MOTHERDUCK__CREDENTIALS__PASSWORD": "example-motherduck-token",
        },
        "expect": {"database": "analytics"},
        "staging": False,  # MotherDuck loads parquet directly; dlt refuses a staging
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
        "expect": {"host": "ch.example.internal", "port": 9440, "database": "analytics"},
    },
    "databricks": {
        "env": {
            "DESTINATION__DATABRICKS__CREDENTIALS__SERVER_HOSTNAME": "adb-123.azuredatabricks.net",
            "DESTINATION__DATABRICKS__CREDENTIALS__HTTP_PATH": "/sql/1.0/warehouses/abc123",
            "DESTINATION__DATABRICKS__CREDENTIALS__ACCESS_TOKEN": "example-token",
            "DESTINATION__DATABRICKS__CREDENTIALS__CATALOG": "main",
        },
        "expect": {"server_hostname": "adb-123.azuredatabricks.net", "catalog": "main"},
    },
}

STAGING_ENV = {
    "DESTINATION__FILESYSTEM__BUCKET_URL": "s3://acme-dlt-staging/stripe",
    "DESTINATION__FILESYSTEM__CREDENTIALS__AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
    "DESTINATION__FILESYSTEM__CREDENTIALS__AWS_SECRET_ACCESS_KEY": "example-secret",
}


@pytest.mark.parametrize("name", list(WAREHOUSES))
def test_documented_keys_reach_dlt(
    name: str, dlt_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = WAREHOUSES[name]
    for key, value in {**case["env"], **STAGING_ENV}.items():
        monkeypatch.setenv(key, value)
    staged = case.get("staging", True)
    pipeline = dlt.pipeline(
        pipeline_name=f"wh_{name}",
        destination=make_destination(name, "stripe", "stripe"),
        staging="filesystem" if staged else None,
        dataset_name="stripe",
    )
    destination = pipeline.destination
    assert destination is not None and destination.destination_type.endswith(name)
    initial = destination.spec()
    initial.dataset_name = pipeline.dataset_name  # what dlt binds before resolving
    config = destination.configuration(initial, accept_partial=False)
    for field, value in case["expect"].items():
        assert getattr(config.credentials, field) == value, field
    for field, value in case.get("config", {}).items():
        assert getattr(config, field) == value, field

    staging = pipeline.staging
    if not staged:
        assert staging is None
        return
    assert staging is not None and staging.destination_type.endswith("filesystem")
    staging_initial = staging.spec()
    staging_initial.dataset_name = pipeline.dataset_name
    staging_config = staging.configuration(staging_initial, accept_partial=False)
    assert staging_config.bucket_url == "s3://acme-dlt-staging/stripe"
    assert staging_config.credentials.aws_access_key_id == "AKIAEXAMPLE"


@pytest.mark.parametrize("name", list(WAREHOUSES))
def test_missing_credentials_stop_with_one_line(name: str, tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DLT_DATA_DIR": str(tmp_path / "dlt"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    out = subprocess.run(
        [
            sys.executable,
            "pipelines/stripe.py",
            "--sandbox",
            "--destination",
            name,
            "--resources",
            "customers",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {name} destination credentials missing: set destination.{name}.credentials "
        f"in .dlt/secrets.toml or DESTINATION__{name.upper()}__CREDENTIALS "
        "(e.g. a connection string)"
    ]
    assert "Traceback" not in out.stderr
