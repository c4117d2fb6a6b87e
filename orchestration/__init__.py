"""Running sluice pipelines under an orchestrator (Dagster; Airflow through ``dlt deploy``)."""
