"""The UI's sweep pages and their API, over a real sweep in a real repository."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

import gittrack
from gittrack.ui.app import create_app

SPACE = {
    "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    "depth": {"type": "int", "low": 2, "high": 8},
    "model": {"type": "categorical", "choices": ["a", "b"]},
}


def objective(params: dict) -> float:
    return abs(params["lr"] - 0.01) * 100 + params["depth"] * 0.01 + (0.5 if params["model"] == "b" else 0.0)


@pytest.fixture
def http(repo: Path):
    with TestClient(create_app(repo), base_url="http://127.0.0.1:5151") as client:
        yield client


def test_the_sweep_page_and_its_api(repo: Path, http: TestClient) -> None:
    result = gittrack.sweep(objective, SPACE, trials=15, seed=2, sampler="random", metric="score")
    listed = http.get("/api/sweeps").json()["sweeps"]
    assert [s["sweep_id"] for s in listed] == [result.sweep_id]
    assert listed[0]["finished"] == 15

    data = http.get(f"/api/sweeps/{result.sweep_id[:10]}").json()
    assert data["sweep_id"] == result.sweep_id
    assert data["metric"] == "score"
    assert data["sampler"] == "random"
    assert data["space"] == SPACE | {"lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True}}
    assert len(data["rows"]) == 15
    assert all(r["run_id"] for r in data["rows"])
    assert data["best_value"] == pytest.approx(min(r["value"] for r in data["rows"]))
    best = [c["best"] for c in data["curve"]]
    assert [c["n"] for c in data["curve"]] == list(range(1, 16))
    assert best == sorted(best, reverse=True)
    assert best[-1] == pytest.approx(data["best_value"])

    importance = http.get(f"/api/sweeps/{result.sweep_id}/importance").json()["importance"]
    assert set(importance) == {"lr", "depth", "model"}
    assert sum(importance.values()) == pytest.approx(1.0)

    page = http.get(f"/sweeps/{result.sweep_id}")
    assert page.status_code == 200
    assert f'data-sweep="{result.sweep_id}"' in page.text
    assert http.get("/sweeps").status_code == 200
    missing = http.get("/api/sweeps/0000")
    assert missing.status_code == 404
    assert "no sweep '0000'" in missing.json()["error"]


@pytest.mark.slow
def test_the_sweep_page_in_a_browser(repo: Path) -> None:
    """The page's charts and table drawn by a real Chromium, with no script error."""
    import subprocess

    from tests.conftest import BIN, optional_programs

    chromium = optional_programs("chromium", install="apt-get install chromium")[0]
    from playwright.sync_api import expect, sync_playwright

    result = gittrack.sweep(objective, SPACE, trials=12, seed=3, sampler="random", metric="score")
    server = subprocess.Popen([str(BIN / "gittrack"), "ui", "--port", "0"], cwd=repo, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        url = server.stdout.readline().split()[2].rstrip("/")  # type: ignore[union-attr]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{url}/sweeps")
            page.click(f"text={result.sweep_id[:12]}")
            expect(page.locator("#sweep-page")).to_have_attribute("data-ready", "1", timeout=30_000)
            expect(page.locator("table.grid tbody tr")).to_have_count(12)  # one row per trial
            expect(page.locator("#summary tbody tr")).to_have_count(7)
            expect(page.locator("#sweep-parallel")).to_have_attribute("data-axes", "4")
            expect(page.locator("#importance")).to_have_attribute("data-params", "3")
            expect(page.locator("#best-curve .scatterlayer .trace")).to_have_count(2)
            browser.close()
        assert errors == []
    finally:
        server.terminate()
        server.wait(timeout=10)
