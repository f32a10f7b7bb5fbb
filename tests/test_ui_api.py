"""The web UI's JSON API and pages through the ASGI test client (no browser, no server)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import gittrack
from gittrack.ui.app import create_app
from gittrack.ui.downsample import min_max
from gittrack.ui.report import render_report
from tests.conftest import BIN
from tests.ui_repo import LONG_STEPS, XSS, XSS_FILE, build


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("ui-api") / "repo"
    return root, build(root, steps=20)


@pytest.fixture(scope="module")
def http(built):
    root, _ = built
    with TestClient(create_app(root), base_url="http://127.0.0.1:5151") as client:
        yield client


def ids(built) -> dict:
    return built[1]["ids"]


def test_runs_are_searched_ordered_and_paged(http, built):
    page = http.get("/api/runs", params={"experiment": "taxi", "filter": "params.lr > 0.005",
                                         "order": "metrics.loss DESC", "limit": 1}).json()  # fmt: skip
    assert [r["run_name"] for r in page["runs"]] == ["sweep-2"]
    assert page["more"] is True
    second = http.get("/api/runs", params={"experiment": "taxi", "filter": "params.lr > 0.005",
                                           "order": "metrics.loss DESC", "limit": 1, "offset": 1}).json()  # fmt: skip
    assert [r["run_name"] for r in second["runs"]] == ["sweep-1"]
    assert second["more"] is False
    assert http.get("/api/runs/count", params={"experiment": "taxi"}).json() == {"count": 4}
    assert http.get("/api/experiments").json() == {"experiments": ["churn", "long", "taxi", "vision"]}


def test_a_filter_syntax_error_names_its_position(http):
    response = http.get("/api/runs", params={"filter": "metrics.loss <"})
    assert response.status_code == 400
    assert response.json()["position"] == 14
    assert "at position 14" in response.json()["error"]


def test_a_run_with_its_summaries_output_and_hostile_values_as_data(http, built):
    hostile = http.get(f"/api/runs/{ids(built)['hostile']}").json()
    assert hostile["params"] == {"evil": XSS}
    assert hostile["error"]["message"] == XSS
    assert hostile["metrics"] == {"loss": "nan"}
    run = http.get(f"/api/runs/{ids(built)['sweep-0']}").json()
    assert run["metric_summaries"]["loss"] == {"last": 1 / 20, "step": 19, "count": 20, "min": 1 / 20, "max": 1.0}
    assert run["inputs"][0]["path"] == "data.csv"
    assert run["logs_text"]["stdout"].startswith("epoch 1\n")


def test_long_histories_are_downsampled_keeping_extremes_and_given_whole_on_demand(http, built):
    run = ids(built)["long"]
    shown = http.get(f"/api/runs/{run}/metric", params={"key": "loss", "points": 500}).json()
    assert shown["downsampled"] is True
    assert shown["total"] == LONG_STEPS
    assert len(shown["value"]) <= 500
    assert max(shown["value"]) == 100.0  # the spike at step 1234 survives
    assert shown["step"][0] == 0
    assert shown["step"][-1] == LONG_STEPS - 1
    every = http.get(f"/api/runs/{run}/metric", params={"key": "loss", "points": "all"}).json()
    assert len(every["value"]) == LONG_STEPS
    assert every["downsampled"] is False


def test_min_max_buckets_keep_order_and_nan_gaps():
    steps = list(range(100))
    values = [float("nan") if 40 <= s < 60 else float(s % 7) for s in steps]
    out = min_max(steps, steps, values, 20)
    assert out["step"] == sorted(out["step"])
    assert len(out["step"]) <= 20
    assert 0.0 in out["value"]
    assert 6.0 in out["value"]


def test_artifacts_preview_by_kind(http, built):
    run = ids(built)["sweep-0"]
    listed = {a["path"] for a in http.get(f"/api/runs/{run}/artifacts").json()["artifacts"]}
    assert {"files/table.csv", "files/info.json", "files/plot.png", "model"} <= listed
    csv = http.get(f"/api/runs/{run}/artifact", params={"path": "files/table.csv"}).json()
    assert csv["kind"] == "csv"
    assert csv["rows"] == [["epoch", "loss"], ["0", "1.0"], ["1", "0.5"]]
    info = http.get(f"/api/runs/{run}/artifact", params={"path": "files/info.json"}).json()
    assert info["json"] == {"accuracy": 0.9, "note": XSS}
    text = http.get(f"/api/runs/{run}/artifact", params={"path": "files/notes.txt"}).json()
    assert text["text"] == "first line\nsecond line\n"
    model_files = http.get(f"/api/runs/{run}/artifacts", params={"path": "model"}).json()["files"]
    assert "model/model.yaml" in [f["path"] for f in model_files]
    spec = http.get(f"/api/runs/{run}/artifact", params={"path": "model/model.yaml"}).json()
    assert spec["kind"] == "model"
    assert "flavor" in spec["text"]
    image = http.get(f"/api/runs/{run}/artifact/raw", params={"path": "files/plot.png"})
    assert image.headers["content-type"] == "image/png"
    assert image.headers["content-security-policy"] == "sandbox"
    assert image.content.startswith(b"\x89PNG")
    download = http.get(f"/api/runs/{run}/artifact/raw", params={"path": f"files/{XSS_FILE}"})
    assert download.headers["content-disposition"].startswith("attachment")
    assert not download.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "path",
    ["files/../../../../etc/passwd", "../model/model.yaml", "/etc/passwd", "model/../../x", "files/..", "files/%2e%2e"],
)
def test_artifact_paths_cannot_leave_the_runs_artifacts(http, built, path):
    run = ids(built)["sweep-0"]
    for url in (f"/api/runs/{run}/artifact", f"/api/runs/{run}/artifact/raw"):
        response = http.get(url, params={"path": path})
        assert response.status_code in (400, 404), (url, path)
        assert b"root:" not in response.content


def test_the_code_at_the_run_and_its_diff_against_the_source(http, built):
    run = ids(built)["sweep-2"]
    names = [f["name"] for f in http.get(f"/api/runs/{run}/files").json()["files"]]
    assert "train.py" in names
    assert http.get(f"/api/runs/{run}/file", params={"path": "train.py"}).json()["text"] == "print('training harder')\n"
    diff = http.get(f"/api/runs/{run}/source-diff").json()
    assert "+print('training harder')" in diff["patch"]
    assert http.get(f"/api/runs/{run}/file", params={"path": "../../etc/passwd"}).status_code == 400


def test_compare_and_diff(http, built):
    three = ",".join(ids(built)[k] for k in ("sweep-0", "sweep-1", "sweep-2"))
    compared = http.get("/api/compare", params={"runs": three}).json()
    assert compared["params"]["lr"] == ["0.001", "0.01", "0.1"]
    assert compared["best"]["loss"] == ids(built)["sweep-0"]
    assert http.get("/api/compare", params={"runs": ids(built)["sweep-0"]}).status_code == 400
    diff = http.get("/api/diff", params={"a": ids(built)["sweep-0"], "b": ids(built)["sweep-2"]}).json()
    assert diff["params"]["lr"] == ["0.001", "0.1"]
    assert "train.py" in [f["path"] for f in diff["files"]]


def test_models_lineage_and_promotion_requests(http, built):
    assert http.get("/api/models").json()["models"][0]["model"] == "taxi-model"
    model = http.get("/api/models/taxi-model").json()
    assert [e["event"] for e in model["history"]] == ["register", "assign", "register"]
    lineage = http.get("/api/lineage", params={"spec": "taxi-model@staging"}).json()
    assert lineage["run"]["run_id"] == ids(built)["sweep-0"]
    (request,) = http.get("/api/promotions").json()["requests"]
    assert request["branch"] == "promote/taxi-model/production/v0.0.2"
    assert "<table>" in request["report_html"]
    assert http.get("/api/models/nope").status_code == 404


def test_pages_escape_every_value_and_forbid_inline_script(http, built):
    page = http.get(f"/runs/{ids(built)['hostile']}")
    assert page.status_code == 200
    assert XSS not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for url in ("/", "/models", f"/compare?runs={ids(built)['sweep-0']},{ids(built)['sweep-1']}"):
        assert http.get(url).status_code == 200
    missing = http.get("/runs/zzzz")
    assert missing.status_code == 404
    assert "no run" in missing.text or "matches no run" in missing.text or "zzzz" in missing.text


def test_requests_from_other_hosts_large_bodies_and_writes_are_refused(http, built):
    assert http.get("/api/runs", headers={"Host": "evil.example"}).status_code == 421
    big = http.post(f"/api/runs/{ids(built)['sweep-0']}/delete", content=b"x" * 100_000,
                    headers={"X-Gittrack-Write": "1"})  # fmt: skip
    assert big.status_code == 413
    read_only = http.post(f"/api/runs/{ids(built)['sweep-0']}/delete", headers={"X-Gittrack-Write": "1"})
    assert read_only.status_code == 403
    assert "--allow-write" in read_only.json()["error"]


def test_slow_requests_are_cut_off(built):
    root, _ = built
    with TestClient(create_app(root, timeout=0.0001), base_url="http://127.0.0.1") as client:
        assert client.get("/api/runs/count").status_code == 503


def test_writes_with_allow_write(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    client = gittrack.Client(root)
    ended = client.create_run(experiment="e", run_name="done")
    client.set_terminated(ended.info.run_id)
    running = client.create_run(experiment="e", run_name="busy")
    client.detach(running.info.run_id)
    with TestClient(create_app(root, allow_write=True), base_url="http://127.0.0.1") as http:
        run_id = ended.info.run_id
        assert http.post(f"/api/runs/{run_id}/delete").status_code == 403  # no write header: no cross-site form
        headers = {"X-Gittrack-Write": "1", "Content-Type": "application/json"}
        assert http.post(f"/api/runs/{run_id}/delete", headers=headers).json() == {"deleted": [run_id]}
        assert http.get("/api/runs", params={"view": "deleted"}).json()["runs"][0]["run_id"] == run_id
        assert http.post(f"/api/runs/{run_id}/restore", headers=headers).json() == {"restored": run_id}
        edited = http.post(f"/api/runs/{running.info.run_id}/edit", headers=headers,
                           json={"name": "renamed", "description": "why", "tags": {"k": "v"}}).json()  # fmt: skip
        assert edited["run"]["run_name"] == "renamed"
        assert edited["run"]["tags"] == {"k": "v", "mlflow.note.content": "why"}
        client.set_tag(run_id, "old", "x")
        commit = client.get_run(run_id).info.commit
        edited = http.post(f"/api/runs/{run_id}/edit", headers=headers,
                           json={"name": "reviewed-run", "description": "checked by hand",
                                 "tags": {"reviewed": "yes", "old": None}}).json()  # fmt: skip
        assert edited["run"] == {"run_id": run_id, "run_name": "reviewed-run",
                                 "tags": {"reviewed": "yes", "mlflow.note.content": "checked by hand"}}  # fmt: skip
        shown = http.get(f"/api/runs/{run_id}").json()
        assert (shown["run_name"], shown["description"], shown["commit"]) == (
            "reviewed-run", "checked by hand", commit)  # fmt: skip
        listed = http.get("/api/runs", params={"filter": "tags.reviewed = 'yes'"}).json()["runs"]
        assert [(r["run_id"], r["run_name"]) for r in listed] == [(run_id, "reviewed-run")]
        cleared = http.post(f"/api/runs/{run_id}/edit", headers=headers, json={"description": ""}).json()
        assert cleared["run"]["tags"] == {"reviewed": "yes"}
        http.post(f"/api/runs/{run_id}/delete", headers=headers)
        refused = http.post(f"/api/runs/{run_id}/edit", headers=headers, json={"name": "x"})
        assert refused.status_code == 404
        assert "restore" in refused.json()["error"]


def test_report_is_one_file_with_values_escaped(built, tmp_path):
    root, info = built
    out = tmp_path / "report.html"
    done = subprocess.run([str(BIN / "gittrack"), "report", "-e", "taxi", "-o", str(out)], cwd=root,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"report of 4 run(s) written to {out}\n"
    html = out.read_text()
    assert XSS not in html.replace("\\u003cscript", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script src=" not in html
    assert '<link rel="stylesheet"' not in html
    usage = subprocess.run([str(BIN / "gittrack"), "report", info["ids"]["sweep-0"], "-e", "taxi"], cwd=root,
                           capture_output=True, text=True)  # fmt: skip
    assert usage.returncode == 2
    assert usage.stderr.count("\n") == 1


def test_promotion_request_report_as_html(built):
    root, _ = built
    done = subprocess.run([str(BIN / "gittrack"), "models", "promote", "taxi-model", "v0.0.2", "staging", "--request",
                           "--report", "promo.html"], cwd=root, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    html = (root / "promo.html").read_text()
    assert "Promote <code>taxi-model</code> v0.0.2 to <code>staging</code>" in html
    assert html.count('class="swatch"') == 2  # the candidate's run and the current holder's


def test_gittrack_ui_starts_fast_and_warns_about_every_address(built):
    root, _ = built
    started = time.monotonic()
    process = subprocess.Popen([str(BIN / "gittrack"), "ui", "--host", "0.0.0.0", "--port", "0", "--repo", str(root)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        line = process.stdout.readline()
        elapsed = time.monotonic() - started
        assert line.startswith("gittrack ui: http://127.0.0.1:")
        assert elapsed < 5  # under 1 s on a quiet machine; the suite runs two at a time
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert err.startswith("warning: listening on 0.0.0.0")


NODE = shutil.which("node")
_FIGURES_JS = """
const vm = require("vm");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const drawn = [];
const context = {
  Plotly: { react: (div, data, layout) => drawn.push({ key: div.dataset.key, data, layout }) },
  document: {
    getElementById: () => ({ textContent: input.data }),
    querySelectorAll: () => input.keys.map((key) => ({ dataset: { key } })),
    body: { dataset: {} },
  },
};
context.window = { Plotly: context.Plotly };
vm.createContext(context);
for (const script of input.scripts) vm.runInContext(script, context);
process.stdout.write(JSON.stringify(input.expression ? vm.runInContext(input.expression, context) : drawn));
"""


def _figures(scripts: list[str], expression: str = "", data: str = "", keys: tuple[str, ...] = ()) -> Any:
    """What the UI's own chart scripts build, run under node with Plotly and the page stubbed: the
    value of ``expression``, or the figures they handed to Plotly."""
    payload = json.dumps({"scripts": scripts, "expression": expression, "data": data, "keys": list(keys)})
    done = subprocess.run([NODE, "-e", _FIGURES_JS], input=payload, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(NODE is None and os.environ.get("CI") != "true", reason="the chart scripts are run with node")
def test_a_metric_with_one_point_is_drawn_as_a_marker(repo: Path) -> None:
    client = gittrack.Client(repo)
    run_id = client.create_run(experiment="single", run_name="one-shot").info.run_id
    client.log_metric(run_id, "auc", 0.91, step=0)
    for step in range(40):
        client.log_metric(run_id, "loss", 1 / (step + 1), step=step)
    client.set_terminated(run_id)
    with TestClient(create_app(repo), base_url="http://127.0.0.1:5151") as http:
        page = http.get(f"/runs/{run_id}").text
        charts = http.get("/static/charts.js").text
        auc = http.get(f"/api/runs/{run_id}/metric", params={"key": "auc"}).json()
        loss = http.get(f"/api/runs/{run_id}/metric", params={"key": "loss"}).json()
    assert page.index('src="/static/charts.js"') < page.index('src="/static/app.js"')

    def figure(series: dict, smoothing: float) -> dict:
        lines = json.dumps([{"name": "m", "series": series, "start": 0}])
        options = json.dumps({"title": "m", "axis": "step", "smoothing": smoothing, "log": False})
        return _figures([charts], f"lineFigure({lines}, {options})")

    _, smoothed = figure(auc, 0.6)["data"]  # the faint raw curve, then the smoothed one
    assert (smoothed["mode"], smoothed["x"], smoothed["y"]) == ("lines+markers", [0], [0.91])
    [plain] = figure(auc, 0)["data"]
    assert plain["mode"] == "lines+markers"
    assert plain["marker"]["color"] == plain["line"]["color"]
    [long] = figure(loss, 0)["data"]
    assert (long["mode"], len(long["x"])) == ("lines", 40)
    html = render_report(client, [run_id])  # the HTML report draws with the same code
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)[1]
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)[-2:]  # charts.js, then report.js
    drawn = _figures(scripts, data=data, keys=("auc", "loss"))
    assert [(d["key"], d["data"][0]["mode"], len(d["data"][0]["x"])) for d in drawn] == [
        ("auc", "lines+markers", 1),
        ("loss", "lines", 40),
    ]


@pytest.mark.skipif(NODE is None and os.environ.get("CI") != "true", reason="the chart scripts are run with node")
def test_ignoring_outliers_keeps_a_first_step_spike_off_the_y_axis(built) -> None:
    charts = (Path(gittrack.ui.__file__).parent / "static" / "charts.js").read_text()
    series = {"step": list(range(30)), "value": [40.0] + [1 / (s + 1) for s in range(1, 30)], "timestamp": [0] * 30}
    lines = json.dumps([{"name": "a", "series": series, "start": 0}, {"name": "b", "series": series, "start": 0}])

    def layout(**options: Any) -> dict:
        given = json.dumps({"title": "loss", "axis": "step", "smoothing": 0, "log": False, **options})
        return _figures([charts], f"lineFigure({lines}, {given}).layout")

    assert layout()["yaxis"]["autorange"] is True
    low, high = layout(outliers=True)["yaxis"]["range"]
    assert low < 0.04
    assert 0.5 < high < 1
    assert layout(ymin="0", ymax="2")["yaxis"]["range"] == [0, 2]
    assert layout(outliers=True, ymin="0.1")["yaxis"]["range"][0] == 0.1
    two = layout()
    assert two["legend"]["yref"] == "container"
    assert two["margin"]["b"] > 40
    assert two["title"]["x"] == 0  # the title left, clear of the modebar


def test_report_with_plotly_beside_it_is_small_and_shares_one_file(built, tmp_path):
    from gittrack.ui import write_report

    root, info = built
    for name in ("a.html", "b.html"):
        write_report(tmp_path / name, [info["ids"]["sweep-0"]], repo=root, plotly_mode="beside")
        assert (tmp_path / name).stat().st_size < 200_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "b.html", "plotly.min.js"]
    assert '<script src="plotly.min.js"></script>' in (tmp_path / "a.html").read_text()
    inline = render_report(gittrack.Client(root), [info["ids"]["sweep-0"]])
    assert len(inline) < 2_500_000  # plotly.js compressed inside: 4.8 MB inlined as is
    assert 'id="plotly-gz"' in inline


def test_a_run_page_lists_the_model_versions_registered_from_it(http, built):
    data = http.get(f"/api/runs/{ids(built)['sweep-0']}/models").json()
    assert [(v["model"], v["version"], v["stages"]) for v in data["registered"]] == [
        ("taxi-model", "v0.0.1", ["staging"])
    ]
    assert http.get(f"/api/runs/{ids(built)['sweep-1']}/models").json()["registered"] == []
    assert http.get("/api/runs/nosuchrun/models").status_code == 404


def test_promotion_reports_mark_rules_without_emoji(http, built):
    from gittrack.ui.markdown import to_html

    html = to_html("| rule | ok |\n| --- | --- |\n| auc > 0.5 | \u2705 |\n| <b>x</b> | \u274c |\n")
    assert "\u2705" not in html
    assert "\u274c" not in html
    assert '<span class="mark ok"><svg' in html
    assert "pass</span>" in html
    assert "fail</span>" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html  # the document's own HTML still shown as text
