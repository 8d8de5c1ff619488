"""The `assign` command line: exit 0 valid, 1 invalid, 2 for a problem that breaks the format."""

import json

from click.testing import CliRunner

from assignment.commands import assign


def test_generate_solve_check(tmp_path):
    runner = CliRunner()
    problem, planted = tmp_path / "problem.json", tmp_path / "planted.json"
    result = runner.invoke(
        assign,
        [
            "generate",
            "--professionals",
            "6",
            "--requests",
            "30",
            "--seed",
            "3",
            "--out",
            str(problem),
            "--plan-out",
            str(planted),
        ],
    )
    assert result.exit_code == 0, result.output
    assert runner.invoke(assign, ["check", str(problem), str(planted)]).exit_code == 0

    solved = runner.invoke(assign, ["solve", str(problem), "--time-limit", "2"])
    assert solved.exit_code == 0, solved.output
    plan = json.loads(solved.stdout)
    assert plan["score"]["covered"] == plan["score"]["requests"]
    out = tmp_path / "plan.json"
    assert (
        runner.invoke(
            assign, ["solve", str(problem), "--time-limit", "2", "--out", str(out)]
        ).exit_code
        == 0
    )
    checked = runner.invoke(assign, ["check", str(problem), str(out)])
    assert checked.exit_code == 0
    assert "valid" in checked.output

    plan["assignments"][0]["start"] = "2030-01-01T03:00"
    out.write_text(json.dumps(plan))
    checked = runner.invoke(assign, ["check", str(problem), str(out)])
    assert checked.exit_code == 1
    assert "[window]" in checked.output


def test_a_broken_problem_exits_2_naming_the_field(tmp_path):
    runner = CliRunner()
    problem = tmp_path / "problem.json"
    runner.invoke(
        assign, ["generate", "--professionals", "2", "--requests", "6", "--out", str(problem)]
    )
    doc = json.loads(problem.read_text())
    doc["requests"][3]["window_end"] = "tomorrow"
    problem.write_text(json.dumps(doc))
    result = runner.invoke(assign, ["solve", str(problem)])
    assert result.exit_code == 2
    assert "requests[3].window_end: must be YYYY-MM-DDTHH:MM" in result.stderr
    assert result.stdout == ""


def test_unreadable_json_exits_2(tmp_path):
    problem = tmp_path / "problem.json"
    problem.write_text("{not json")
    assert CliRunner().invoke(assign, ["solve", str(problem)]).exit_code == 2
