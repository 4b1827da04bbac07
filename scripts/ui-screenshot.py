"""Takes docs/img/ui-swap.png, the README's picture of the status page (/ui) during a swap.

A real stack on the CPU profile where one tiny vLLM fits and two do not (a simulated 3 GiB
device, each tiny server plans 2): tiny-qwen-a is loaded and answers a few chats (the try-it
box's among them), then a chat for tiny-qwen-b and a CLI load of it make the supervisor evict
tiny-qwen-a and start tiny-qwen-b. The picture is taken while tiny-qwen-b starts and the chat
waits for it, 1280 px wide, from the top down to the recent requests (`--whole`: the try-it box
too). Two tiny vLLM starts: about 1.5 minutes on a 2-core machine. Hold the heavy lock
(`flock /tmp/modelyard-heavy.lock ...`) where other heavy runs share the machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import Browser, FloatRect, Page, expect

from harness.browser import chromium
from harness.stack import Stack, running_stack, stack_config, wait_for

A, B = "tiny-qwen-a", "tiny-qwen-b"
TOKEN = "screenshot-admin-token"
OUT = Path(__file__).resolve().parent.parent / "docs" / "img" / "ui-swap.png"
START_MS = 240_000
CHATS = [  # (model, prompt): the recent requests table's rows before the swap
    ("auto", "Summarise why the sky is blue in one line"),
    ("gpt-4o-mini", "Name three rivers in India"),
    (A, "count to five"),
]


def chat(stack: Stack, model: str, prompt: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": 16}
    return httpx.post(f"{stack.proxy_url}/v1/chat/completions", json=body, timeout=300)


def warm_up(stack: Stack) -> None:
    """tiny-qwen-a ready and a few answered requests to show."""
    done = stack.cli("load", A)
    if done.returncode != 0:
        raise SystemExit(f"{A} did not load: {done.stderr}")
    for model, prompt in CHATS:
        reply = chat(stack, model, prompt)
        print(f"chat ({model}): {reply.status_code} via {reply.headers.get('x-modelyard-model')}")


def swapping(stack: Stack) -> bool:
    """The proxy's queue shows B loading or a request waiting for it."""
    queue = httpx.get(f"{stack.proxy_url}/ui/api/state", timeout=5).json().get("queue") or {}
    waits = [w["server"] for w in queue.get("waiting", [])]
    return B in queue.get("loading", []) or B in waits


def open_page(browser: Browser, stack: Stack, width: int) -> Page:
    """The page as an operator sees it: admin token entered, a try-it chat answered."""
    page = browser.new_page(viewport={"width": width, "height": 900}, device_scale_factor=1)
    page.goto(f"{stack.proxy_url}/ui")
    page.fill("#admin-token", TOKEN)
    page.click("#save-token")
    expect(page.locator("[data-testid=access]")).to_contain_text("actions enabled")
    page.fill("#try-prompt", "write a python function that adds two numbers")
    page.click("#try-send")
    expect(page.locator("[data-testid=try-headers]")).to_contain_text(A, timeout=120_000)
    return page


def upper(page: Page) -> FloatRect:
    """The page down to the recent requests: the try-it box below them says nothing about a
    swap and takes the PNG past the ~300 KB a README picture should weigh."""
    section = page.locator("section", has=page.locator("tr[data-testid=request]"))
    bottom = section.evaluate("e => e.getBoundingClientRect().bottom + window.scrollY")
    width = page.evaluate("document.documentElement.scrollWidth")
    return {"x": 0, "y": 0, "width": width, "height": bottom + 12}


def swap_and_shoot(page: Page, stack: Stack, out: Path, whole: bool) -> None:
    """A chat for B first (it waits in the queue), then the CLI load; the picture while B
    starts. Both finish before the stack stops, so it shuts down cleanly."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        waiting: Future[httpx.Response] = pool.submit(chat, stack, B, "hello from the queue")
        wait_for(lambda: swapping(stack), timeout=30, what=f"the chat to start {B}")
        loading = pool.submit(stack.cli, "load", B)
        row = page.locator(f"tr[data-testid=server][data-name='{B}']")
        expect(row.locator("td[data-field=state]")).to_contain_text("starting", timeout=60_000)
        queued = page.locator(f"[data-testid=waiting][data-server='{B}']")
        try:
            expect(queued).to_be_visible(timeout=10_000)
        except AssertionError:
            print(f"note: no request shown waiting for {B}; taking the picture anyway")
        updated = page.locator("[data-testid=updated]")  # one more poll: bars catch up
        expect(updated).not_to_have_text(updated.inner_text(), timeout=5_000)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=out, full_page=True, clip=None if whole else upper(page))
        print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")
        print(f"load {B}: {loading.result().stdout.strip()}")
        print(f"queued chat: {waiting.result().status_code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--whole", action="store_true", help="the whole page, try-it box too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelyard-ui-") as tmp_, chromium() as browser:
        tmp = Path(tmp_)
        config = stack_config(tmp / "state", admin_token=TOKEN, simulate_gpus_gb=[3])
        with running_stack(tmp, config) as stack:
            warm_up(stack)
            swap_and_shoot(open_page(browser, stack, args.width), stack, args.out, args.whole)


if __name__ == "__main__":
    main()
