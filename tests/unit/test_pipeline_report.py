"""The report (JSON, Markdown, GitHub step summary and outputs) and the redaction of keys and tokens."""
from __future__ import annotations

import json
import logging

from pipeline.steps.gates import GateResult
from pipeline.redact import RedactingFilter, redact, register_secret
from pipeline.report import RunReport, to_markdown, write


def sample() -> RunReport:
    report = RunReport("config/g.yaml", "Grocery Checkout", "groceries", outcome="gate-failed", exit_code=3,
                       message="1 gate(s) failed")
    report.performance = {"iteration": "Iteration 2", "iteration_id": "i2", "threshold": 0.5,
                          "overall": {"precision": 1.0, "recall": 0.9, "average_precision": 0.95},
                          "per_tag": {"banana": {"precision": 1.0, "recall": 0.8, "average_precision": 0.9}}}
    report.gates = [GateResult("tag banana recall", 0.8, 0.95, False).to_dict()]
    report.uploads = {"uploaded": 6, "duplicates": 0, "skipped": 45, "failures": [["apple/x.jpg", "ErrorImageFormat"]]}
    report.training = {"trained": True, "iteration": "Iteration 2", "iteration_id": "i2"}
    report.timings = {"upload": 1.25, "total": 3.5}
    return report


def test_markdown_has_metrics_gates_uploads_timings():
    markdown = to_markdown(sample())
    assert "**gate-failed**" in markdown
    assert "| banana | 100.0% | 80.0% | 90.0% |" in markdown
    assert "| tag banana recall | 0.800 | 0.950 | -0.150 | **FAIL** |" in markdown
    assert "6 uploaded" in markdown and "`apple/x.jpg`: ErrorImageFormat" in markdown
    assert "| upload | 1.2 |" in markdown or "| upload | 1.3 |" in markdown


def test_files_summary_and_outputs(tmp_path):
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    written = write(sample(), tmp_path / "r" / "report.json", tmp_path / "r" / "report.md",
                    {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)})
    assert len(written) == 2
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["outcome"] == "gate-failed" and data["gates"][0]["margin"] == -0.15
    assert "cvops: Grocery Checkout" in summary.read_text()
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert values["outcome"] == "gate-failed" and values["exit_code"] == "3" and values["recall"] == "0.9000"
    assert values["images_uploaded"] == "6" and values["iteration"] == "Iteration 2"


def test_no_secret_in_report_or_logs(tmp_path, caplog):
    register_secret("super-secret-training-key")
    report = sample()
    report.message = "failed with key super-secret-training-key"
    report.warnings = ["Training-key: other-key-123 leaked in a header dump", "Authorization: Bearer abc.def"]
    write(report, tmp_path / "r.json", tmp_path / "r.md", {})
    for name in ("r.json", "r.md"):
        text = (tmp_path / name).read_text()
        assert "super-secret-training-key" not in text and "other-key-123" not in text and "abc.def" not in text
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key=%s", ("super-secret-training-key",), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "key=***"
    assert redact("Prediction-Key: 'abc123'") == "Prediction-Key: '***'"


def test_a_failed_run_writes_beside_the_last_good_report(tmp_path):
    good = RunReport("c.yaml", "P", "p", outcome="published", exit_code=0, message="Iteration 1 published")
    json_path, markdown_path = tmp_path / "report.json", tmp_path / "report.md"
    assert write(good, json_path, markdown_path, environ={}) == [str(json_path), str(markdown_path)]
    failed = sample()  # gate-failed
    written = write(failed, json_path, markdown_path, environ={})
    assert written == [str(tmp_path / "report.failed.json"), str(tmp_path / "report.failed.md")]
    assert json.loads(json_path.read_text())["outcome"] == "published"
    assert "**published**" in markdown_path.read_text() and "**gate-failed**" in (tmp_path / "report.failed.md").read_text()
    assert json.loads((tmp_path / "report.failed.json").read_text())["outcome"] == "gate-failed"
    # a second failure replaces the failed one, still beside; the next good run clears it
    write(failed, json_path, markdown_path, environ={})
    assert json.loads(json_path.read_text())["outcome"] == "published"
    write(good, json_path, markdown_path, environ={})
    assert not (tmp_path / "report.failed.json").exists() and not (tmp_path / "report.failed.md").exists()
    # with no good report there yet, a failed run writes in place
    fresh = tmp_path / "fresh.json"
    assert write(failed, fresh, None, environ={}) == [str(fresh)]
