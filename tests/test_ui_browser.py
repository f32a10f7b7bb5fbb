"""The web UI and the report in a real browser: Playwright driving the system's headless Chromium.

One ``gittrack ui`` server over one small repository for the whole module. Screenshots of each
page go to ``test-output/ui/`` (not committed). Without Chromium these tests are skipped with
one line, except under ``CI=true``, where a missing browser fails.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

import gittrack
from tests.conftest import BIN, optional_programs
from tests.ui_repo import LONG_STEPS, XSS, build

SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "ui"
CHROMIUM = optional_programs("chromium", install="apt-get install chromium (Playwright downloads nothing)",
                             module_level=True)[0]  # fmt: skip

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.slow
CHARTS = "[...document.querySelectorAll('#charts .chart')]"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    """The repository, a RUNNING run still being written, and the URL of ``gittrack ui`` over them."""
    root = tmp_path_factory.mktemp("ui-browser") / "repo"
    info = build(root, steps=50)
    client = gittrack.Client(root)
    live = client.create_run(experiment="live", run_name="live-run")
    client.log_metric(live.info.run_id, "progress", 1.0, step=0)
    client.flush(live.info.run_id)
    process = subprocess.Popen([str(BIN / "gittrack"), "ui", "--port", "0", "--repo", str(root)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    line = process.stdout.readline()
    assert line.startswith("gittrack ui: http://127.0.0.1:"), line + process.stderr.read()
    url = line.split()[2].rstrip("/")
    try:
        yield {"url": url, "root": root, "ids": info["ids"], "client": client, "live": live.info.run_id}
    finally:
        process.terminate()
        process.wait(timeout=10)
        client.set_terminated(live.info.run_id)


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    yield page
    context.close()
    assert errors == []  # no script error, and no alert() ever ran


def rows(page: Page) -> list[str]:
    return page.locator("#runs tbody tr td:nth-child(2)").all_inner_texts()


def test_runs_page_filter_sort_columns_and_select(site, page):
    page.goto(f"{site['url']}/?experiment=taxi")
    expect(page.locator("#runs tbody tr")).to_have_count(4)
    expect(page.locator("#range")).to_have_text("runs 1\N{EN DASH}4 of 4")
    page.screenshot(path=SHOTS / "runs.png")
    # filter, with a syntax error shown at its position
    page.fill("#filter", "params.lr >")
    page.press("#filter", "Enter")
    expect(page.locator("#filter-error")).to_contain_text("at position 11")
    assert page.locator("#filter-error").inner_text().splitlines()[1] == " " * 11 + "^"
    page.fill("#filter", "params.lr > 0.005")
    page.press("#filter", "Enter")
    expect(page.locator("#runs tbody tr")).to_have_count(2)
    expect(page.locator("#filter-error")).to_be_hidden()
    # sort by a metric, both ways
    page.locator("#runs th[data-column='metrics.loss']").click()
    expect(page.locator("#runs tbody tr").first).to_contain_text("sweep-1")
    page.locator("#runs th[data-column='metrics.loss']").click()
    expect(page.locator("#runs tbody tr").first).to_contain_text("sweep-2")
    assert "order=metrics.loss+DESC" in page.url
    # params, tags and the run id are columns by default; choose others
    for column in ("run_id", "params.depth", "params.lr", "metrics.loss", "tags.team"):
        expect(page.locator(f"#runs th[data-column='{column}']")).to_be_visible()
    page.click("#columns summary")
    page.locator("#column-list input[value='user']").check()
    expect(page.locator("#runs th[data-column='user']")).to_be_visible()
    assert page.locator("#runs tbody tr").first.locator("td").last.inner_text() == "Ada Tester"
    page.locator("#column-list input[value='metrics.acc']").uncheck()
    expect(page.locator("#runs th[data-column='metrics.acc']")).to_have_count(0)
    assert "col=user" in page.url
    assert "col=metrics.acc" not in page.url
    page.keyboard.press("Escape")  # closes the chooser
    expect(page.locator("#column-list")).to_be_hidden()
    # status badges, selection for compare
    expect(page.locator("#runs tbody .badge.status-finished")).to_have_count(2)
    page.locator("#runs tbody tr input[type=checkbox]").nth(0).check()
    expect(page.locator("#compare")).to_be_disabled()
    page.locator("#runs tbody tr input[type=checkbox]").nth(1).check()
    expect(page.locator("#compare")).to_have_text("Compare 2")
    page.click("#compare")
    page.wait_for_url("**/compare?runs=*")


def test_running_runs_refresh_by_themselves(site, page):
    page.goto(f"{site['url']}/?experiment=live")
    expect(page.locator("#runs tbody .badge.status-running")).to_have_count(1)
    expect(page.locator("#runs tbody tr")).to_contain_text("1")
    site["client"].log_metric(site["live"], "progress", 42.0, step=1)
    site["client"].flush(site["live"])
    expect(page.locator("#runs tbody tr")).to_contain_text("42", timeout=15_000)


def test_run_page_overview_charts_artifacts_code_and_output(site, page):
    run = site["ids"]["sweep-0"]
    page.goto(f"{site['url']}/runs/{run}")
    expect(page.locator("#tab-overview .card").first).to_be_visible()
    expect(page.locator("#tab-overview")).to_contain_text("data.csv")
    expect(page.locator("#tab-overview")).to_contain_text("lr")
    page.screenshot(path=SHOTS / "run.png", full_page=True)
    # charts: one per metric, every one of the 50 points drawn
    page.click("button[data-tab=charts]")
    expect(page.locator("#charts")).to_have_attribute("data-drawn", "2")
    counts = page.evaluate(f"{CHARTS}.map(c => [c.dataset.key, c.data[0].x.length])")
    assert sorted(counts) == [["acc", 50], ["loss", 50]]
    page.locator("#logscale").check()
    assert page.evaluate("document.querySelector('#charts .chart').layout.yaxis.type") == "log"
    page.locator("#smoothing").fill("0.6")
    assert page.evaluate("document.querySelector('#charts .chart').data.length") == 2  # raw, faint, and smoothed
    page.select_option("#xaxis", "wall")
    assert page.evaluate("document.querySelector('#charts .chart').layout.xaxis.type") == "date"
    page.screenshot(path=SHOTS / "run-charts.png")
    # artifacts: a CSV as a table, an image, the model's model.yaml
    page.click("button[data-tab=artifacts]")
    page.locator("#artifact-list li[data-path='files/table.csv']").click()
    expect(page.locator("#artifact-view table.preview-csv tbody tr")).to_have_count(2)
    page.locator("#artifact-list li[data-path='files/plot.png']").click()
    expect(page.locator("#artifact-view img.preview-image")).to_be_visible()
    assert page.evaluate("document.querySelector('#artifact-view img').naturalWidth") == 1
    page.locator("#artifact-list li[data-path='model']").click()
    expect(page.locator("#artifact-view pre.preview-model")).to_contain_text("flavor")
    page.screenshot(path=SHOTS / "run-artifacts.png")
    # code at the commit
    page.click("button[data-tab=code]")
    page.locator("#file-list li[data-path='train.py']").click()
    expect(page.locator("#file-view pre.code")).to_have_text("print('training')\n")
    page.click("button[data-tab=logs]")
    expect(page.locator("#log-stdout")).to_contain_text("epoch 2")


def test_long_histories_draw_downsampled_then_whole(site, page):
    page.goto(f"{site['url']}/runs/{site['ids']['long']}#charts")
    expect(page.locator("#charts")).to_have_attribute("data-drawn", "1")
    chart = page.locator("#charts .chart")
    assert int(chart.get_attribute("data-points")) <= 2000
    assert page.evaluate("Math.max(...document.querySelector('#charts .chart').data[0].y)") == 100.0
    page.click("#charts button.full")
    expect(chart).to_have_attribute("data-points", str(LONG_STEPS))


def test_code_diff_against_the_source_commit(site, page):
    page.goto(f"{site['url']}/runs/{site['ids']['sweep-2']}#code")
    page.click("#show-diff")
    expect(page.locator("#file-view pre.diff .add").last).to_have_text("+print('training harder')")
    page.screenshot(path=SHOTS / "run-code-diff.png")


def test_compare_three_runs(site, page):
    three = ",".join(site["ids"][k] for k in ("sweep-0", "sweep-1", "sweep-2"))
    page.goto(f"{site['url']}/compare?runs={three}")
    expect(page.locator("#compare-page")).to_have_attribute("data-ready", "1")
    assert page.evaluate(f"{CHARTS}.map(c => Number(c.dataset.traces))") == [3, 3]
    expect(page.locator("#params tr.differs")).to_have_count(2)  # depth and lr
    expect(page.locator("#metrics td.best")).to_have_count(2)
    expect(page.locator("#parallel")).to_have_attribute("data-axes", "3")  # depth, lr -> acc
    assert page.evaluate("document.getElementById('parallel').data.length") == 3
    assert page.evaluate("document.getElementById('scatter').data[0].x.length") == 3
    expect(page.locator("#diff-section")).to_be_hidden()
    page.screenshot(path=SHOTS / "compare.png", full_page=True)
    two = ",".join(site["ids"][k] for k in ("sweep-0", "sweep-2"))
    page.goto(f"{site['url']}/compare?runs={two}")
    expect(page.locator("#diff")).to_contain_text("train.py")


def test_models_page_versions_timeline_lineage_and_requests(site, page):
    page.goto(f"{site['url']}/models")
    expect(page.locator("#models-page")).to_have_attribute("data-ready", "1")
    expect(page.locator("#timeline li")).to_have_count(3)
    expect(page.locator("#model-view")).to_contain_text("staging")
    page.locator("button.lineage").last.click()
    expect(page.locator(".lineage-table")).to_contain_text("data.csv")
    expect(page.locator("#requests .request")).to_contain_text("promote/taxi-model/production/v0.0.2")
    expect(page.locator("#requests .report table")).to_have_count(2)
    page.screenshot(path=SHOTS / "models.png", full_page=True)


def test_hostile_values_render_as_text(site, page):
    page.goto(f"{site['url']}/?experiment=taxi")
    expect(page.locator("#runs tbody")).to_contain_text(XSS)
    page.goto(f"{site['url']}/runs/{site['ids']['hostile']}")
    expect(page.locator("#run-name")).to_have_text(XSS)
    expect(page.locator("#tab-overview")).to_contain_text(XSS)  # param, tag and error message, as text
    assert page.locator("#tab-overview script").count() == 0
    page.goto(f"{site['url']}/runs/{site['ids']['sweep-0']}#artifacts")
    page.locator("#artifact-list li[data-path='files/info.json']").click()
    expect(page.locator("#artifact-view pre.preview-json")).to_contain_text(XSS)
    page.locator("#artifact-list li", has_text="onerror").click()
    expect(page.locator("#artifact-view pre")).to_have_text(XSS)
    assert page.locator("#artifact-view img").count() == 0
    page.screenshot(path=SHOTS / "xss.png")


def test_artifact_traversal_is_refused_in_the_browser(site, page):
    run = site["ids"]["sweep-0"]
    for path in ("../../../../etc/passwd", "files/../../../../../etc/passwd", "model/../../run.yaml"):
        response = page.goto(f"{site['url']}/api/runs/{run}/artifact/raw?path={path}")
        assert response.status == 404
        assert "root:" not in page.content()


def test_static_report_opened_from_a_file(site, page, tmp_path):
    out = tmp_path / "report.html"
    started = time.monotonic()
    subprocess.run([str(BIN / "gittrack"), "report", "-e", "taxi", "-o", str(out)], cwd=site["root"], check=True,
                   capture_output=True)  # fmt: skip
    assert time.monotonic() - started < 30
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(out.as_uri())
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    assert requests == [out.as_uri()]  # nothing fetched: charts and data are inline
    assert page.evaluate(f"{CHARTS}.map(c => Number(c.dataset.traces))") == [3, 4]
    expect(page.locator("#report-runs")).to_contain_text(XSS)
    expect(page.locator("#report-params tr.differs")).to_have_count(3)
    page.screenshot(path=SHOTS / "report.png", full_page=True)


def test_runs_chart_view_grouping_and_a_saved_view_link(site, page):
    page.goto(f"{site['url']}/?experiment=vision")
    expect(page.locator("#runs tbody tr")).to_have_count(5)
    # group by a param: a row per group with its run count and the mean of each metric
    page.select_option("#group", "params.optimizer")
    expect(page.locator("#runs tr.group-row")).to_have_count(2)
    sgd = page.locator("#runs tr.group-row[data-group='sgd']")
    expect(sgd).to_contain_text("optimizer = sgd · 3 runs")
    loss = page.locator("#runs th").evaluate_all("ths => ths.map(t => t.dataset.column)").index("metrics.training_loss")
    assert float(sgd.locator("td").nth(loss).inner_text()) == pytest.approx((3.0 + 0.03 + 1.1 / 30) / 3, rel=1e-3)
    page.select_option("#agg", "max")
    expect(sgd.locator("td").nth(loss)).to_have_text("3")
    sgd.locator("button.fold").click()  # fold the group
    expect(page.locator("#runs tbody tr[data-run]")).to_have_count(2)
    # the chart view: the metric per group as bars, and the histories of the runs ticked
    page.click("#chart-view")
    page.select_option("#chart-metric", "val_loss")
    expect(page.locator("#bar-chart")).to_have_attribute("data-bars", "2")
    page.select_option("#group", "")
    expect(page.locator("#bar-chart")).to_have_attribute("data-bars", "4")  # a bar per run with val_loss
    boxes = page.locator("#runs tbody tr[data-run] input[type=checkbox]")
    boxes.nth(1).check()
    boxes.nth(2).check()
    expect(page.locator("#history-chart")).to_have_attribute("data-traces", "2")
    expect(page.locator("#history-note")).to_contain_text("2 selected")
    page.locator(".range-controls .outliers").first.check()
    assert page.evaluate("document.getElementById('history-chart').layout.yaxis.autorange") is False
    page.select_option("#group", "params.optimizer")
    page.click("#columns summary")
    page.locator("#column-list input[value='metrics.training_accuracy']").uncheck()
    page.locator("h1, .pager").first.click()  # a click elsewhere closes the chooser
    page.fill("#filter", "params.lr < 0.5")
    page.press("#filter", "Enter")
    expect(page.locator("#runs tr.group-row")).to_have_count(2)
    page.screenshot(path=SHOTS / "runs-chart-view.png", full_page=True)
    # the whole view is in the link: opened elsewhere, it shows the same
    link = page.url
    for part in ("group=params.optimizer", "charts=1", "metric=val_loss", "filter=params.lr", "col=run_name"):
        assert part in link
    other = page.context.new_page()
    other.goto(link)
    expect(other.locator("#runs tr.group-row")).to_have_count(2)
    expect(other.locator("#chart-panel")).to_be_visible()
    expect(other.locator("#chart-metric")).to_have_value("val_loss")
    expect(other.locator("#filter")).to_have_value("params.lr < 0.5")
    expect(other.locator("#runs th[data-column='metrics.training_accuracy']")).to_have_count(0)
    assert other.locator("#runs th").all_inner_texts() == page.locator("#runs th").all_inner_texts()
    other.close()


def test_run_page_error_tail_models_gallery_and_tabs_by_hash(site, page):
    page.goto(f"{site['url']}/runs/{site['ids']['crashed']}")
    error = page.locator("#tab-overview .error-card")
    expect(error).to_contain_text("ExitCode: command exited with status 1")
    expect(error.locator("pre.traceback")).to_contain_text("ValueError: Input contains NaN")  # the tail of stderr
    expect(page.locator("#tab-overview .tags-card")).to_contain_text("No tags set.")
    label = page.locator("#tab-overview .run-card td").first
    assert label.evaluate("e => e.getBoundingClientRect().height") < 30  # "status" on one line
    page.screenshot(path=SHOTS / "run-failed.png", full_page=True)
    # the run a model version came from links to it
    page.goto(f"{site['url']}/runs/{site['ids']['sweep-0']}")
    expect(page.locator(".models-card a")).to_have_attribute("href", "/models?model=taxi-model")
    expect(page.locator(".models-card")).to_contain_text("v0.0.1")
    # a hash-only change switches the tab
    page.evaluate("location.hash = '#code'")
    expect(page.locator("#tab-code")).to_be_visible()
    expect(page.locator("#file-view .hint")).to_contain_text("Select a file")
    page.evaluate("location.hash = '#artifacts'")
    expect(page.locator("#tab-artifacts")).to_be_visible()
    expect(page.locator("#tab-code")).to_be_hidden()
    # images as a gallery; a folder's arrow turns as it opens and closes
    page.goto(f"{site['url']}/runs/{site['ids']['resnet-0']}#artifacts")
    expect(page.locator("#artifact-view .hint")).to_contain_text("Select a file")
    expect(page.locator("#gallery figure")).to_have_count(3)
    loaded = "[...document.querySelectorAll('#gallery img')].every(i => i.complete && i.naturalWidth === 48)"
    for _ in range(100):  # (wait_for_function evaluates a string, which the page's CSP forbids)
        if page.evaluate(loaded):
            break
        page.wait_for_timeout(50)
    assert page.evaluate(loaded)
    page.screenshot(path=SHOTS / "run-gallery.png")
    folder = page.locator("#artifact-list li[data-path='plots']")
    folder.click()
    expect(folder).to_have_attribute("data-open", "1")
    assert "matrix" in folder.evaluate("e => getComputedStyle(e, '::before').transform")
    expect(page.locator("#artifact-list li[data-parent='plots']")).to_have_count(3)
    folder.click()
    expect(page.locator("#artifact-list li[data-parent='plots']").first).to_be_hidden()
    page.locator("#gallery figure[data-path='plots/roc.png']").click()
    expect(page.locator("#artifact-view img.preview-image")).to_be_visible()
    # charts grouped by prefix, with a search
    page.click("button[data-tab=charts]")
    expect(page.locator("#charts")).to_have_attribute("data-drawn", "5")
    # a curve of 30 points marks each one (the count under the chart is written beside plotly's points)
    assert page.evaluate("document.querySelector('#charts .chart').querySelectorAll('path.point').length") == 30
    expect(page.locator("#charts .chart-box .meta .points").first).to_have_text("30 points")
    assert page.locator("#charts .chart-group").evaluate_all("gs => gs.map(g => g.dataset.prefix)") == [
        "",
        "system/",
        "training_",
    ]
    page.fill("#metric-search", "system")
    expect(page.locator("#charts .chart-box:visible")).to_have_count(2)
    expect(page.locator("#charts .chart-group[data-prefix='training_']")).to_be_hidden()


def test_models_page_shows_how_to_load_a_version(site, page):
    page.goto(f"{site['url']}/models")
    expect(page.locator("#models-page")).to_have_attribute("data-ready", "1")
    usage = page.locator("#usage")
    expect(usage.locator(".snippet[data-lang='Python'] pre")).to_contain_text(
        'gittrack.load_model("taxi-model@v0.0.2")'
    )
    page.select_option("#usage-version", "staging")
    expect(usage.locator(".snippet[data-lang='gittrack.mlflow'] pre")).to_contain_text(
        'load_model("models:/taxi-model/staging")'
    )
    expect(usage.locator(".snippet[data-lang='CLI'] pre")).to_contain_text(
        "gittrack models get taxi-model@staging -o model/"
    )
    text = page.locator("#models-page").inner_text()
    assert "\u2705" not in text
    assert "\u274c" not in text
    expect(page.locator("#model-view .mark.ok svg")).to_have_count(2)
    fits = page.evaluate(
        "(() => { const c = document.querySelector('.versions-card'); return c.scrollWidth <= c.clientWidth + 1; })()"
    )
    assert fits  # the versions table fits its card


def test_editing_an_ended_run_with_forms(browser, tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    client = gittrack.Client(root)
    run_id = client.create_run(experiment="e", run_name="done").info.run_id
    client.set_terminated(run_id)
    commit = client.get_run(run_id).info.commit
    process = subprocess.Popen([str(BIN / "gittrack"), "ui", "--port", "0", "--allow-write", "--repo", str(root)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    dialogs: list[str] = []
    try:
        url = process.stdout.readline().split()[2].rstrip("/")
        page = context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(f"{url}/runs/{run_id}")
        expect(page.locator("#run-name")).to_have_text("done")
        page.click("#edit summary")
        # checked before sending, the message beside the form
        page.click("#tag-form button[type=submit]")
        expect(page.locator("#tag-form .form-error")).to_have_text("a tag key is needed")
        expect(page.locator("#edit-tag-key")).to_have_attribute("aria-invalid", "true")
        page.fill("#edit-tag-key", "bad*key")
        page.click("#tag-form button[type=submit]")
        expect(page.locator("#tag-form .form-error")).to_contain_text("only letters, digits")
        page.fill("#edit-name", "  ")
        page.click("#rename-form button[type=submit]")
        expect(page.locator("#rename-form .form-error")).to_have_text("the name cannot be empty")
        page.fill("#edit-tag-key", "reviewed")
        page.fill("#edit-tag-value", "yes")
        with page.expect_navigation():
            page.click("#tag-form button[type=submit]")
        expect(page.locator("#tab-overview .tags-card tr", has_text="reviewed")).to_contain_text("yes")
        page.click("#edit summary")
        page.fill("#edit-description", "checked by hand")
        with page.expect_navigation():
            page.click("#description-form button[type=submit]")
        expect(page.locator("#tab-overview")).to_contain_text("checked by hand")
        page.click("#edit summary")
        page.fill("#edit-name", "done-v2")
        with page.expect_navigation():
            page.click("#rename-form button[type=submit]")
        expect(page.locator("#run-name")).to_have_text("done-v2")
        page.screenshot(path=SHOTS / "run-edited.png")
        # deleting asks on the page, then shows the experiment's deleted runs
        page.click("#delete")
        expect(page.locator(".confirm")).to_contain_text("It can be restored")
        with page.expect_navigation():
            page.click("#confirm-delete")
        expect(page.locator("#view")).to_have_value("deleted")
        expect(page.locator("#runs tbody")).to_contain_text("done-v2")
        with page.expect_navigation():
            page.locator("#runs tbody button.restore").click()
        expect(page.locator("#run-name")).to_have_text("done-v2")
    finally:
        context.close()
        process.terminate()
        process.wait(timeout=10)
    assert dialogs == []  # no prompt(), confirm() or alert()
    assert client.get_run(run_id).info.commit == commit
