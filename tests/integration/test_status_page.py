"""The status page (issue 18) in a real headless browser (Debian's chromium through Playwright)
against a real `modelyard up` on the CPU profile: it loads under its CSP without console
errors, lists every configured server, reflects a load started from the CLI within seconds,
shows a try-it chat's route and then its row in the recent requests, refuses an action without
the admin token (and does it with one), and fits a phone's width.

One stack and one real vLLM start for the module (tiny-qwen-a, ~31 s here, made by the CLI load
that the load test watches): the later tests reuse it, so keep the load test before them.
Screenshots land in harness.browser.artifacts() ($MODELYARD_ARTIFACTS or .artifacts/).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, Response, expect

from harness.browser import BrowserUnavailable, artifacts, chromium, find_chromium
from harness.stack import Stack, running_stack, stack_config, wait_for

A = "tiny-qwen-a"  # the agent route's primary: the one server this module starts
TOKEN = "status-page-admin-token"
PROMPT = "write a python function that adds two numbers"
PHONE = {"width": 390, "height": 844}
START_S = 180  # a tiny vLLM is ready in ~31 s alone; CI's 2 cores may be busy with more


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        find_chromium()
    except BrowserUnavailable as exc:
        print(f"\nSKIP status page tests: {exc}")
        pytest.skip(f"no browser: {exc}")
    with chromium() as running:
        yield running


@pytest.fixture(scope="module")
def ui_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("status-page")
    config = stack_config(tmp / "state", admin_token=TOKEN)
    with running_stack(tmp, config, check_exit=True) as running:
        yield running


@pytest.fixture
def a_ready(ui_stack: Stack) -> None:
    """tiny-qwen-a ready: already, after the load test; else (a test run alone) the same CLI
    load, which answers at once for a ready server."""
    done = ui_stack.cli("load", A)
    assert done.returncode == 0, done.stderr


@dataclass
class View:
    page: Page
    response: Response
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions


@contextlib.contextmanager
def opened(browser: Browser, stack: Stack, **context: Any) -> Iterator[View]:
    """The page in a fresh browser context (no admin token kept), once it has drawn a state."""
    ctx = browser.new_context(**context)
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on(
            "console",
            lambda m: (
                errors.append(f"{m.text} at {m.location.get('url')}") if m.type == "error" else None
            ),
        )
        page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
        response = page.goto(stack.proxy_url + "/ui")
        assert response is not None
        expect(page.locator("[data-testid=updated]")).to_contain_text("updated", timeout=10_000)
        yield View(page, response, errors)
    finally:
        ctx.close()


def row(page: Page, name: str) -> Locator:
    return page.locator(f"tr[data-testid=server][data-name='{name}']")


def cell(locator: Locator, name: str) -> Locator:
    return locator.locator(f"td[data-field={name}]")


def shot(page: Page, name: str) -> Path:
    path = artifacts() / name
    page.screenshot(path=path, full_page=True)
    return path


def test_the_page_loads_under_its_csp_and_shows_every_server_and_the_devices(
    browser: Browser, ui_stack: Stack
) -> None:
    with opened(browser, ui_stack) as view:
        page = view.page
        for name in ui_stack.config["servers"]:
            expect(row(page, name)).to_be_visible()
        expect(page.locator("tr[data-testid=server]")).to_have_count(
            len(ui_stack.config["servers"])
        )
        devices = page.locator("[data-testid=device]")
        expect(devices.first).to_be_visible()
        expect(devices.first).to_contain_text("GiB")
        expect(page.locator("[data-testid=supervisor]")).to_contain_text("supervisor: ok")
        expect(page.locator("[data-testid=access]")).to_contain_text("read-only")
        # live: the next poll (every second) redraws the clock
        updated = page.locator("[data-testid=updated]")
        expect(updated).not_to_have_text(updated.inner_text(), timeout=5_000)
        errors = list(view.errors)
    assert view.response.status == 200
    csp = view.response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "style-src 'self'" in csp, csp
    # a CSP refusal (an inline script or style="") shows up here as a console error
    assert errors == [], errors


def test_a_load_from_the_cli_shows_starting_within_seconds_then_ready(
    browser: Browser, ui_stack: Stack
) -> None:
    with opened(browser, ui_stack) as view, ThreadPoolExecutor(max_workers=1) as pool:
        server = row(view.page, A)
        state = cell(server, "state")
        expect(state).to_contain_text("stopped")
        expect(cell(server, "cost")).not_to_contain_text("seen")  # a prior, nothing measured
        loading = pool.submit(ui_stack.cli, "load", A)  # blocks until ready
        try:
            expect(state).to_contain_text("starting", timeout=10_000)
            shot(view.page, "status-page-loading.png")
            expect(state).to_contain_text("ready", timeout=START_S * 1000)
        finally:
            done = loading.result(timeout=START_S)
        assert done.returncode == 0, done.stderr
        port = ui_stack.server(A)["port"]
        expect(cell(server, "port")).to_contain_text(str(port))
        # the start just measured replaces the prior: "start 31 s (1 seen)"
        expect(cell(server, "cost")).to_contain_text(re.compile(r"start \d[^(]*\(1 seen\)"))


def test_a_try_it_chat_shows_its_route_and_answer_then_its_row_in_recent_requests(
    browser: Browser, ui_stack: Stack, a_ready: None
) -> None:
    with opened(browser, ui_stack) as view:
        page = view.page
        page.fill("#try-prompt", PROMPT)
        page.click("#try-send")
        expect(page.locator("[data-testid=try-route]")).to_contain_text(
            re.compile(r'"route":\s*"agent"'), timeout=30_000
        )
        expect(page.locator("[data-testid=try-headers]")).to_contain_text(
            f"x-modelyard-model: {A}", timeout=120_000
        )
        expect(page.locator("[data-testid=try-answer]")).to_contain_text(re.compile(r"\S"))
        chats = (
            page.locator("tr[data-testid=request]")
            .filter(has=page.locator("td[data-field=model]", has_text=A))
            .filter(has=page.locator("td[data-field=tried]", has_text=A))
        )
        expect(chats).to_have_count(1, timeout=10_000)
        expect(cell(chats, "route")).to_contain_text("agent")
        expect(cell(chats, "status")).to_contain_text("200")
        shot(page, "status-page-chat.png")


def test_an_action_is_refused_without_the_admin_token_and_done_with_it(
    browser: Browser, ui_stack: Stack, a_ready: None
) -> None:
    with opened(browser, ui_stack) as view:
        page = view.page
        server, notice = row(page, A), page.locator("[data-testid=notice]")
        access = page.locator("[data-testid=access]")
        expect(cell(server, "state")).to_contain_text("ready")
        expect(access).to_contain_text("read-only")
        unpinned = cell(server, "pinned").inner_text()

        server.locator("button[data-action=pin]").click()
        expect(notice).to_contain_text("admin token")
        assert ui_stack.server(A)["pinned"] is False  # the refusal has answered: nothing changed

        page.fill("#admin-token", TOKEN)
        page.click("#save-token")
        expect(access).to_contain_text("actions enabled")
        server.locator("button[data-action=pin]").click()
        expect(notice).to_contain_text(f"{A}: pin done")
        assert ui_stack.server(A)["pinned"] is True
        expect(cell(server, "pinned")).not_to_have_text(unpinned)

        server.locator("button[data-action=unpin]").click()
        expect(notice).to_contain_text(f"{A}: unpin done")
        wait_for(lambda: ui_stack.server(A)["pinned"] is False, timeout=10, what="unpinned")
        expect(cell(server, "pinned")).to_have_text(unpinned)


def test_a_phone_width_screen_lists_the_servers_without_sideways_scrolling(
    browser: Browser, ui_stack: Stack
) -> None:
    with opened(browser, ui_stack, viewport=PHONE) as view:
        page = view.page
        for name in ui_stack.config["servers"]:
            expect(row(page, name)).to_be_visible()
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        shot(page, "status-page-phone.png")
    scroll, inner = widths
    assert scroll <= inner + 1, f"the page is {scroll} px wide on a {inner} px screen"
