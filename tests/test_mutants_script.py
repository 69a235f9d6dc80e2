"""scripts/mutants.py itself: the list applies to the current tree (every fragment exactly once,
every named test exists), it spans the README's guarantees, and one tiny end-to-end run on a
throw-away project tells caught, survived, stale and baseline-red apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts import mutants
from scripts.mutants import Mutation, Outcome

GUARANTEES = ["leases", "reconciler", "webhooks", "SSRF", "stitching", "mastering", "formats", "fairness",
              "speaker gate", "continuous batching", "voices", "usage", "tenant isolation", "idempotency",
              "lifecycle"]


def test_every_entry_applies_to_the_current_tree():
    """A fragment that moved or changed makes its entry stale: fix the entry with the code."""
    assert mutants.check_list(mutants.MUTATIONS) == {}


def test_the_list_spans_the_guarantees_with_fast_tests():
    names = [m.name for m in mutants.MUTATIONS]
    assert len(names) >= 20 and len(set(names)) == len(names)
    claimed = {m.guarantee.split(":")[0] for m in mutants.MUTATIONS}
    assert set(GUARANTEES) <= claimed, set(GUARANTEES) - claimed
    slow = [t for m in mutants.MUTATIONS for t in m.tests if t.startswith(("tests/e2e/", "tests/faults/"))]
    assert not slow, "name unit or API tests: the e2e and fault suites take minutes per mutation"


def test_problems_name_what_is_stale(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b  # plus\n# plus\n")
    (tmp_path / "tests" / "test_calc.py").write_text("def test_add():\n    pass\n")
    ok = Mutation("ok", "g", "calc.py", "return a + b", "return a - b", ("tests/test_calc.py::test_add",))
    assert mutants.problems(ok, tmp_path) == []
    twice = Mutation("twice", "g", "calc.py", "# plus", "", ("tests/test_calc.py",))
    assert mutants.problems(twice, tmp_path) == ["fragment found 2 times in calc.py (must be exactly once)"]
    gone = Mutation("gone", "g", "calc.py", "a * b", "a / b", ("tests/test_nope.py", "tests/test_calc.py::test_x"))
    assert mutants.problems(gone, tmp_path) == [
        "fragment found 0 times in calc.py (must be exactly once)", "test file tests/test_nope.py does not exist",
        "tests/test_calc.py::test_x: no test named test_x in tests/test_calc.py"]
    assert mutants.check_list([ok, ok], tmp_path) == {"ok": ["duplicate name"]}


def test_pytest_output_is_read():
    out = ("..F\n=========================== short test summary info ============================\n"
           "FAILED tests/core/render/test_leases.py::test_only_one_of_two_claims_wins[sqlite] - assert None\n"
           "!!!!!!!!!!!!!!!!!!!!!!!!!! stopping after 1 failures !!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
           "1 failed, 2 passed in 3.25s\n")
    failed = "tests/core/render/test_leases.py::test_only_one_of_two_claims_wins[sqlite]"
    assert mutants._FAILED.findall(out) == [failed]
    assert mutants._SECONDS.findall(out) == ["3.25"]
    assert mutants._covers("tests/a.py::test_b", "tests/a.py::test_b[sqlite]")
    assert mutants._covers("tests/a.py", "tests/a.py::test_b") and not mutants._covers("tests/a.py::test_b",
                                                                                          "tests/a.py::test_bc")


def test_only_refuses_unknown_names():
    first = mutants.MUTATIONS[0]
    assert mutants.select_mutations([first.name, first.name]) == [first]
    with pytest.raises(SystemExit, match="unknown mutation"):
        mutants.select_mutations(["no_such_mutation"])


def test_list_prints_every_entry(capsys):
    assert mutants.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(m.name in out for m in mutants.MUTATIONS)


def _project(root: Path) -> None:
    (root / "tests").mkdir(parents=True)
    (root / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef half(x):\n    return x / 2  # exact\n")
    (root / "tests" / "test_calc.py").write_text(
        "from voxfarm.calc import add, half\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_half_is_a_number():\n    assert isinstance(half(3), float)\n")
    (root / "tests" / "test_red.py").write_text("def test_already_red():\n    assert False\n")


def test_a_tiny_run_tells_the_outcomes_apart(tmp_path, monkeypatch):
    """Caught, survived, stale and baseline red, on a scratch copy that leaves the project as it was."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # the children need no plugin: seconds, not tens
    project = tmp_path / "project"
    _project(project)
    before = (project / "calc.py").read_text()
    chosen = [Mutation("minus", "arithmetic", "calc.py", "return a + b", "return a - b",
                       ("tests/test_calc.py::test_add",)),
              Mutation("floor", "arithmetic", "calc.py", "return x / 2  # exact", "return x / 2.0",
                       ("tests/test_calc.py",)),
              Mutation("stale", "arithmetic", "calc.py", "return a * b", "return a", ("tests/test_calc.py",)),
              Mutation("red", "arithmetic", "calc.py", "def half", "def halve", ("tests/test_red.py",))]
    lines = []
    outcomes, total, base = mutants.run(chosen, project, 120, scratch=tmp_path, log=lines.append)
    by = {o.mutation.name: o for o in outcomes}
    assert by["minus"].status == "caught" and by["minus"].caught_by == "tests/test_calc.py::test_add"
    assert by["floor"].status == "survived" and by["floor"].test_s is not None
    assert by["stale"].status == "stale" and "0 times" in by["stale"].detail
    assert by["red"].status == "baseline red" and "test_already_red" in by["red"].detail
    assert mutants.kill_ratio(outcomes) == (1, 2) and base is not None and total >= base.wall_s
    assert (project / "calc.py").read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["project"]
    report = mutants.markdown(outcomes, project, total, base)
    assert "kill ratio 1/2 = 50.0 %" in report and "| `floor` | arithmetic | `calc.py` | SURVIVED |" in report
    assert "minus,caught," in report and "SURVIVED" in mutants.table(outcomes)


def test_timeouts_count_as_killed_and_stale_entries_are_not_judged():
    m = mutants.MUTATIONS[0]
    outcomes = [Outcome(m, "timeout"), Outcome(m, "survived"), Outcome(m, "stale"), Outcome(m, "baseline red")]
    assert mutants.kill_ratio(outcomes) == (1, 2)
