"""The results store: identity, lock, checksums, interrupted writes."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from fdafast.store import ResultStore, StoreError, read_rows

ID = {"study": "sweep", "model": "tiny2d", "mode": "reram", "params": ["adc_bits", "tile"]}
FIELDS = ["id", "status", "adc_bits", "tile", "energy_j", "error"]


def row(i, status="ok"):
    return {"id": f"adc_bits={i},tile=8", "status": status, "adc_bits": i, "tile": 8,
            "energy_j": 0.5 * i, "error": "" if status == "ok" else "Boom: a, \"quoted\"\nline"}


def test_rows_round_trip_with_checksums(tmp_path):
    path = tmp_path / "s.csv"
    with ResultStore(path, ID, FIELDS) as store:
        for i in range(3):
            store.append(row(i))
        store.append(row(9, "error"))
        got = store.rows()
    assert [r["id"] for r in got] == [row(i)["id"] for i in (0, 1, 2, 9)]
    assert got[3]["error"] == row(9, "error")["error"]            # commas, quotes, newlines
    assert path.read_text().splitlines()[0].endswith(",crc")
    assert (tmp_path / "s.csv.identity.json").exists()


def test_a_new_run_refuses_existing_results_and_a_directory(tmp_path):
    path = tmp_path / "s.csv"
    with ResultStore(path, ID, FIELDS) as store:
        store.append(row(1))
    with pytest.raises(StoreError, match="already holds results"):
        with ResultStore(path, ID, FIELDS):
            pass
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(StoreError, match="is a directory"):
        with ResultStore(tmp_path / "d.csv", ID, FIELDS, resume=True):
            pass


def test_a_header_only_store_is_started_afresh(tmp_path):
    path = tmp_path / "s.csv"
    with ResultStore(path, ID, FIELDS):
        pass                                               # crashed before any result
    other = dict(ID, model="tiny3d")
    with ResultStore(path, other, FIELDS) as store:        # no --resume needed, no clash
        store.append(row(2))
    assert len(read_rows(path)) == 1


def test_a_cut_last_line_is_dropped_before_appending(tmp_path):
    path = tmp_path / "s.csv"
    with ResultStore(path, ID, FIELDS) as store:
        store.append(row(1))
        store.append(row(2))
    data = path.read_bytes()
    path.write_bytes(data[:-7])                            # the last line is cut
    assert [r["adc_bits"] for r in read_rows(path)] == ["1"]
    with ResultStore(path, ID, FIELDS, resume=True) as store:
        store.append(row(3))
    assert [r["adc_bits"] for r in read_rows(path)] == ["1", "3"]
    with ResultStore(path, ID, FIELDS, resume=True) as store:  # and every later resume
        assert len(store.rows()) == 2


def test_a_corrupt_line_is_reported_not_trusted(tmp_path):
    path = tmp_path / "s.csv"
    with ResultStore(path, ID, FIELDS) as store:
        for i in range(3):
            store.append(row(i))
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace("0.5", "0.7")
    path.write_text("".join(lines))
    with pytest.raises(StoreError, match="line 3 .* corrupt"):
        read_rows(path)
    path.write_text("id,status\nx,ok\n")                   # an old or foreign file
    with pytest.raises(StoreError, match="not a results store"):
        read_rows(path)


def test_a_resume_with_another_identity_names_what_differs(tmp_path):
    path = tmp_path / "s.csv"
    with ResultStore(path, ID, FIELDS) as store:
        store.append(row(1))
    with pytest.raises(StoreError, match=r"model: 'tiny3d' now, 'tiny2d' in the store"):
        with ResultStore(path, dict(ID, model="tiny3d"), FIELDS, resume=True):
            pass
    with pytest.raises(StoreError, match="params"):
        with ResultStore(path, dict(ID, params=["adc_bits", "tile", "rows"]), FIELDS,
                         resume=True):
            pass
    # the same parameters in another order: rows are matched by name, columns kept
    reordered = ["id", "status", "tile", "adc_bits", "energy_j", "error"]
    with ResultStore(path, dict(ID, params=["tile", "adc_bits"]), reordered,
                     resume=True) as store:
        store.append(row(2))
    assert [(r["adc_bits"], r["tile"]) for r in read_rows(path)] == [("1", "8"), ("2", "8")]
    (tmp_path / "s.csv.identity.json").unlink()
    with pytest.raises(StoreError, match="no identity"):
        with ResultStore(path, ID, FIELDS, resume=True):
            pass


def test_a_second_run_fails_while_the_first_holds_the_lock(tmp_path):
    path = tmp_path / "s.csv"
    with ResultStore(path, ID, FIELDS):
        with pytest.raises(StoreError, match=f"another run .*pid {os.getpid()}"):
            with ResultStore(path, ID, FIELDS, resume=True):
                pass
    with ResultStore(path, ID, FIELDS, resume=True):      # released on exit
        pass


def test_a_killed_lock_holder_does_not_block_the_next_run(tmp_path):
    path = tmp_path / "s.csv"
    holder = textwrap.dedent(f"""
        import sys, time
        from fdafast.store import ResultStore
        with ResultStore({str(path)!r}, {ID!r}, {FIELDS!r}) as s:
            s.append({row(1)!r})
            print("held", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match="another run"):
            with ResultStore(path, ID, FIELDS, resume=True):
                pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    t0 = time.time()
    with ResultStore(path, ID, FIELDS, resume=True) as store:
        assert [r["adc_bits"] for r in store.rows()] == ["1"]
    assert time.time() - t0 < 5
