"""The README's screenshots of the explorer, taken in headless Chromium (Playwright).

    python -m explore.screenshots --url http://localhost:8765 --sweep outputs/sweeps/rate_cap_20k \
        --out docs/img

Needs a running ``lendsim-explore``, Playwright (``dev`` extra) and a Chromium
(Debian's ``chromium``). Writes ``explorer_run.png`` (a rate cap on two seeds at
20,000 borrowers against the baseline) and ``explorer_sweeps.png`` (the sweep
given), each the page's top at a modest width.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Sequence
from pathlib import Path

WAIT_MS = 180_000
VIEWPORT = {"width": 1400, "height": 1500}


def shoot(page, path: Path) -> None:
    """Screenshot the page once it has settled, as a 256-colour PNG (a modest file)."""
    from PIL import Image

    page.wait_for_timeout(2000)
    page.screenshot(path=str(path))
    Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Take both screenshots."""
    parser = argparse.ArgumentParser(prog="python -m explore.screenshots")
    parser.add_argument("--url", default="http://localhost:8765")
    parser.add_argument("--sweep", type=Path, required=True, help="a sweep directory to show")
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--browser", default=shutil.which("chromium"))
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.browser, args=["--no-sandbox"])
        page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
        page.goto(args.url + "/")
        page.locator(".run-button").wait_for(timeout=WAIT_MS)
        page.locator(".lever-market-n_borrowers input").fill("20000")
        page.locator(".lever-regulation-rate_cap_apr input").fill("0.18")
        page.locator(".run-button").click()
        page.locator(".chart-type_shares img").wait_for(timeout=WAIT_MS)
        shoot(page, args.out / "explorer_run.png")
        page.locator(".nav-sweeps").click()
        page.locator(".sweep-path input").fill(str(args.sweep))
        page.locator(".sweep-path input").press("Enter")
        page.locator(".sweep-comparison").wait_for(timeout=WAIT_MS)
        shoot(page, args.out / "explorer_sweeps.png")
        browser.close()
    print(f"wrote {args.out / 'explorer_run.png'} and {args.out / 'explorer_sweeps.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
