"""Unit tests of the durable record spool between the raw and the canonical load."""

from __future__ import annotations

from pathlib import Path

from sources.kit.mapping import RecordSpool


def test_records_survive_a_run_whose_canonical_load_failed(tmp_path: Path) -> None:
    with RecordSpool(tmp_path / "spool") as first_run:
        first_run.add("customers", {"id": "cus_1", "name": "old"})
        first_run.add("customers", {"id": "cus_2", "name": "kept"})
        # canonical load failed: no clear()

    second_run = RecordSpool(tmp_path / "spool")
    second_run.add("customers", {"id": "cus_1", "name": "new"})

    records = list(second_run.records("customers"))
    assert sorted((r["id"], r["name"]) for r in records) == [("cus_1", "new"), ("cus_2", "kept")]
    second_run.clear()
    assert list(second_run.records("customers")) == []
    second_run.close()


def test_dead_letter_rows_and_records_without_id_are_handled(tmp_path: Path) -> None:
    spool = RecordSpool(tmp_path / "s")
    tee = spool.tee("charges")
    assert tee({"id": "ch_1"}) == {"id": "ch_1"}
    spool.add("charges", {"amount": 1})
    spool.add("charges", {"amount": 2})

    assert [r.get("id") for r in spool.records("charges")] == ["ch_1", None, None]
    spool.close()
    assert (tmp_path / "s").exists()  # a spool given its own folder keeps it
