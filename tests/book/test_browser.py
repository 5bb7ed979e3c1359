"""The built book, read in a browser: every page of the table of contents, three editions.

Each edition is built once per session (`book_build` in tests/book/conftest.py, the
same -W build as `make book` / `make book-offline`), served from `_build/html`
on 127.0.0.1 and read by headless Chromium (Debian's `chromium` and
`chromium-driver`, driven by Selenium; nothing is downloaded at run time). The
browser is cut off from every host but 127.0.0.1: names do not resolve and
every other connection goes to a dead proxy. So the offline edition is checked
exactly as a reader without internet sees it, and the network log proves that
it asks for nothing outside the site. The Chinese edition (`make book-zh`) serves
its own MathJax too and is checked like the offline one.

For every page listed in `_toc.yml` the test checks that it loads with no
console error from the site's own files, that every image has loaded and has
alt text, that figures are not shrunk below a readable size, that every
equation is typeset by MathJax (offline edition; the default edition takes
MathJax from a CDN the test does not reach, and its pages are shown to carry
the same article HTML as the offline edition's), that every exercise solution
is collapsed and opens when clicked, and that the Colab (and Binder) launch
links point at the page's notebook. The search page must find a term (in the
Chinese edition, a Chinese one, split into words by jieba), and the language
switch of every page must land on the same page of the other edition, on a site
laid out as `make site` publishes it (English at the root, Chinese in zh/).

A full-page screenshot of each page of the offline and Chinese editions (where
everything renders without internet), solutions open, is saved under
`_build/screenshots/<edition>/` for a person to look at.
"""

from __future__ import annotations

import base64
import functools
import http.server
import importlib.util
import io
import json
import re
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from toc import PAGES

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "_build" / "screenshots"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())

# The default edition loads MathJax from here (Sphinx's default `mathjax_path`);
# it is the one address outside the site that the default edition may ask for.
MATHJAX_CDN = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"
# Browser window: a common laptop width, where the theme shows both sidebars.
WINDOW = (1280, 900)
# A figure may be scaled down to this fraction of its pixel width, no further:
# matplotlib's 10-pt labels at the notebooks' 100 dpi (13.9 px) stay >= 9.7 px.
MIN_FIGURE_SCALE = 0.7
# At most this share of the text outputs may be wider than the page.
MAX_WIDE_OUTPUTS = 0.05
# Console errors that come with the pinned Sphinx toolchain, not from the book:
# Sphinx 7.4 registers an inline script added after the builder starts twice
# (once with filename None, once with ""), so sphinx-thebe's configuration
# script, with its `const THEBE_JS_URL`, appears twice on every page and the
# second copy is rejected. The first copy has already defined everything.
KNOWN_TOOLCHAIN_ERRORS = ("Identifier 'THEBE_JS_URL' has already been declared",)
# Chromium asks every site for /favicon.ico by itself; the book declares none.
IMPLICIT_REQUESTS = ("/favicon.ico",)
PAGE_TIMEOUT = 60  # seconds for MathJax, images and the search to finish

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("jupyter_book") is None,
        reason="jupyter-book is not installed in this environment "
        "(pip install -r requirements.txt)",
    ),
]


# --------------------------------------------------------------------------- pages


EDITIONS = ("offline", "default", "zh")
# The editions that serve their own MathJax and may ask for nothing outside the site.
SELF_CONTAINED = ("offline", "zh")


def _screenshot_name(page: str) -> str:
    return f"{PAGES.index(page):02d}_{page.replace('/', '_')}.png"


def _expected_launch_links(page: str) -> dict[str, str]:
    """The Colab and Binder addresses a notebook page must link to, from `_config.yml`."""
    repo = CONFIG["repository"]
    owner_repo = urlsplit(repo["url"]).path.strip("/")
    prefix = str(repo.get("path_to_book") or "").strip("/")
    path = f"{prefix}/{page}.ipynb" if prefix else f"{page}.ipynb"
    launch = CONFIG["launch_buttons"]
    return {
        "colab": (
            f"{launch['colab_url'].rstrip('/')}/github/{owner_repo}/blob/{repo['branch']}/{path}"
        ),
        "binder": f"{launch['binderhub_url'].rstrip('/')}/v2/gh/{owner_repo}/{repo['branch']}"
        f"?urlpath=tree/{path}",
    }


# --------------------------------------------------------------------------- fixtures


def _chromium() -> tuple[str, str]:
    browser = next(
        (p for p in ("/usr/bin/chromium", shutil.which("chromium")) if p and Path(p).exists()), None
    )
    driver = next(
        (
            p
            for p in ("/usr/bin/chromedriver", shutil.which("chromedriver"))
            if p and Path(p).exists()
        ),
        None,
    )
    if browser is None or driver is None:
        pytest.skip(
            "the browser test needs Chromium and its driver, and "
            f"{'chromium' if browser is None else 'chromedriver'} is not installed "
            "(Debian/Ubuntu: apt-get install chromium chromium-driver; .ci/run does this)"
        )
    return browser, driver


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session, cut off from every host but 127.0.0.1."""
    chromium, chromedriver = _chromium()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: pip install -r requirements.txt")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--force-device-scale-factor=1",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        # No name resolves but 127.0.0.1, and any other connection goes to a port
        # where nothing listens (Chromium never proxies loopback addresses).
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=127.0.0.1",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(chromedriver))
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def site(book_build):
    """`site(edition) -> (BookBuild, base URL)`: the built edition served on 127.0.0.1."""
    servers: dict[str, tuple] = {}

    def serve(edition: str):
        if edition not in servers:
            build = book_build(edition)
            assert build.returncode == 0, f"{' '.join(build.command)} failed:\n{build.log}"
            handler = functools.partial(_QuietHandler, directory=str(build.html))
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            shutil.rmtree(SCREENSHOTS / edition, ignore_errors=True)
            (SCREENSHOTS / edition).mkdir(parents=True)
            servers[edition] = (build, f"http://127.0.0.1:{server.server_address[1]}/", server)
        build, base, _ = servers[edition]
        return build, base

    yield serve
    for _, _, server in servers.values():
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- browser helpers


def _wait(driver, condition, timeout=PAGE_TIMEOUT, poll=0.1):
    """Poll a JavaScript expression until it is truthy; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(f"return ({condition});")
        if value or time.monotonic() > deadline:
            return value
        time.sleep(poll)


def _network(driver) -> list[dict]:
    """The requests since the last call: url, and status (or error) of the answer."""
    requests: dict[str, dict] = {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            requests.setdefault(params["requestId"], {})["url"] = params["request"]["url"]
        elif message["method"] == "Network.responseReceived":
            requests.setdefault(params["requestId"], {})["status"] = params["response"]["status"]
        elif message["method"] == "Network.loadingFailed":
            requests.setdefault(params["requestId"], {})["error"] = params.get(
                "errorText", "failed"
            )
    return [r for r in requests.values() if "url" in r]


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname == "127.0.0.1"


def _save_screenshot(driver, path: Path) -> None:
    """The whole page, not only the window, as one PNG (captured in tiles if very long)."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    tile = 16000  # Chromium captures at most 16384 px in one go
    parts = [
        base64.b64decode(
            driver.execute_cdp_cmd(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {
                        "x": 0,
                        "y": top,
                        "width": WINDOW[0],
                        "height": min(tile, height - top),
                        "scale": 1,
                    },
                },
            )["data"]
        )
        for top in range(0, height, tile)
    ]
    if len(parts) == 1:
        path.write_bytes(parts[0])
        return
    from PIL import Image

    images = [Image.open(io.BytesIO(part)) for part in parts]
    page = Image.new("RGB", (max(i.width for i in images), sum(i.height for i in images)), "white")
    for index, image in enumerate(images):
        page.paste(image, (0, sum(i.height for i in images[:index])))
    page.save(path, compress_level=1)


# --------------------------------------------------------------------------- the checks


def _check_page(driver, base: str, edition: str, page: str) -> list[str]:
    """Visit one page as a reader; return every problem found (empty: the page works)."""
    from selenium.webdriver.common.by import By

    problems: list[str] = []
    driver.get_log("browser")  # drop what is left of the previous page
    driver.get_log("performance")
    driver.get(base + page + ".html")
    _wait(driver, "document.readyState === 'complete'")

    # Every image loaded, with alt text that says something (not a file name),
    # and figures not shrunk below a readable size.
    _wait(driver, "[...document.images].every(i => i.complete)")
    images = driver.execute_script(
        "return [...document.images].map(i => ({src: i.getAttribute('src'), "
        "alt: i.getAttribute('alt'),"
        " natural: i.naturalWidth, shown: i.getBoundingClientRect().width,"
        " figure: !!i.closest('.cell_output, figure')}))"
    )
    for image in images:
        alt = (image["alt"] or "").strip()
        if image["natural"] == 0:
            problems.append(f"image {image['src']} did not load")
        if not alt:
            problems.append(f"image {image['src']} has no alt text")
        elif re.search(r"\.(png|jpe?g|svg|gif)$", alt) or ("/" in alt and " " not in alt):
            problems.append(f"image {image['src']} has a file name for alt text: {alt!r}")
        if (
            image["figure"]
            and image["natural"]
            and image["shown"] / image["natural"] < MIN_FIGURE_SCALE
        ):
            problems.append(
                f"figure {image['src']} is shown at {image['shown']:.0f} "
                f"of its {image['natural']} px "
                f"(< {MIN_FIGURE_SCALE:.0%}): its text is too small to read; draw it narrower "
                "or give its cell the `full-width` tag"
            )

    # Code fits the page: no code cell scrolls sideways at the test's window
    # width (notebooks/ruff.toml formats the chapters to fit). Text outputs that
    # do are counted in wide-outputs.txt beside the screenshots.
    wide_code = driver.execute_script(
        "return [...document.querySelectorAll('div.cell_input pre')]"
        ".filter(p => p.scrollWidth > p.clientWidth)"
        ".map(p => p.textContent.split('\\n')"
        ".reduce((a, b) => (b.length > a.length ? b : a)))"
    )
    problems += [f"code cell wider than the page, longest line: {line!r}" for line in wide_code]
    wide, outputs = driver.execute_script(
        "const pres = [...document.querySelectorAll('div.cell_output pre')];"
        "return [pres.filter(p => p.scrollWidth > p.clientWidth).length, pres.length]"
    )
    with open(SCREENSHOTS / edition / "wide-outputs.txt", "a") as report:
        report.write(f"{page}: {wide} of {outputs} text outputs wider than the page\n")

    # Equations: every math element typeset by MathJax, none in error.
    n_math = driver.execute_script("return document.querySelectorAll('.math').length")
    if n_math and edition in SELF_CONTAINED:
        typeset = _wait(
            driver,
            "[...document.querySelectorAll('.math')].every(m => m.querySelector('mjx-container'))",
        )
        if not typeset:
            raw = driver.execute_script(
                "return [...document.querySelectorAll('.math')].filter("
                "m => !m.querySelector('mjx-container')).slice(0, 3).map(m => m.textContent)"
            )
            problems.append(f"{n_math} equations, some never typeset by MathJax, e.g. {raw}")
        errors = driver.execute_script(
            "return [...document.querySelectorAll('mjx-merror')]"
            ".map(e => e.getAttribute('data-mjx-error') || e.textContent)"
        )
        if errors:
            problems.append(f"MathJax could not typeset: {errors[:3]}")
    elif n_math:
        scripts = driver.execute_script("return [...document.scripts].map(s => s.src)")
        if MATHJAX_CDN not in scripts:
            problems.append(f"{n_math} equations but no MathJax script ({MATHJAX_CDN}) on the page")

    # Exercise solutions: collapsed, and open when their title is clicked.
    # (sphinx-togglebutton hides a solution's body with height 0, opacity 0 and
    # visibility: hidden; `checkVisibility` with these options sees all three.)
    shown = (
        "[...document.querySelectorAll('div.solution')].map(s => [...s.children]"
        ".filter(c => !c.classList.contains('admonition-title'))"
        ".every(c => c.getBoundingClientRect().height > 0"
        " && c.checkVisibility({opacityProperty: true, visibilityProperty: true})))"
    )
    before = driver.execute_script(f"return {shown}")
    titles = driver.find_elements(By.CSS_SELECTOR, "div.solution > .admonition-title")
    assert len(titles) == len(before), "a solution without a title"
    for index, (title, visible) in enumerate(zip(titles, before, strict=True)):
        if visible:
            problems.append(f"solution {index + 1} of the page is not collapsed")
            continue
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", title)
        title.click()
    _wait(driver, f"{shown}.every(Boolean)", timeout=5)
    after = driver.execute_script(f"return {shown}")
    problems += [
        f"solution {index + 1} of the page did not open when clicked"
        for index, visible in enumerate(after)
        if not visible
    ]
    if before and not driver.execute_script(
        "return [...document.querySelectorAll('div.solution')]"
        ".every(s => s.textContent.trim().length > 40)"
    ):
        problems.append("a solution is (nearly) empty")

    # Launch links: a notebook page points Colab and Binder at its own notebook.
    links = driver.execute_script(
        "return [...document.querySelectorAll('a[href]')].map(a => a.href)"
    )
    colab = [link for link in links if "colab.research.google.com" in link]
    binder = [link for link in links if "mybinder.org" in link]
    if (ROOT / f"{page}.ipynb").exists():
        expected = _expected_launch_links(page)
        if colab != [expected["colab"]]:
            problems.append(f"Colab launch links {colab}, expected [{expected['colab']}]")
        if binder != [expected["binder"]]:
            problems.append(f"Binder launch links {binder}, expected [{expected['binder']}]")
    elif colab or binder:
        problems.append(f"a page that is not a notebook has launch links {colab + binder}")

    # Readers can talk back: every page links to a new issue that names the page.
    new_issue = f"{CONFIG['repository']['url'].rstrip('/')}/issues/new?title="
    if not any(link.startswith(new_issue) and page in unquote(link) for link in links):
        problems.append(f"no 'open an issue' link naming {page} (html.use_issues_button)")

    # The screenshot (the editions where everything renders), taken with every
    # solution open and every equation typeset.
    if edition in SELF_CONTAINED:
        driver.execute_script("window.scrollTo(0, 0)")
        _save_screenshot(driver, SCREENSHOTS / edition / _screenshot_name(page))

    # The network: nothing outside the site (the default edition: only MathJax's
    # CDN, which the test cannot reach), and no request of the site's that failed.
    for request in _network(driver):
        url = request["url"]
        if not _is_local(url):
            if edition in SELF_CONTAINED or url != MATHJAX_CDN:
                problems.append(f"asks for {url}, outside the site")
        elif (
            urlsplit(url).scheme.startswith("http") and urlsplit(url).path not in IMPLICIT_REQUESTS
        ):
            if "error" in request or request.get("status", 200) >= 400:
                problems.append(f"{url}: {request.get('error') or request.get('status')}")

    # The console: no error from the site's own files (the offline edition: none at all).
    for entry in driver.get_log("browser"):
        message = entry["message"]
        if entry["level"] != "SEVERE" or any(known in message for known in KNOWN_TOOLCHAIN_ERRORS):
            continue
        if any(path in message for path in IMPLICIT_REQUESTS) and "404" in message:
            continue
        url = message.split(" ", 1)[0]
        if edition == "default" and url.startswith("http") and not _is_local(url):
            continue  # the CDN the test cannot reach; checked above
        problems.append(f"console error: {message}")
    return problems


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("edition", EDITIONS)
def test_page_works_in_a_browser(browser, site, edition, page):
    _, base = site(edition)
    problems = _check_page(browser, base, edition, page)
    assert problems == [], f"{edition} edition, {page}.html:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("edition", EDITIONS)
def test_few_text_outputs_are_wider_than_the_page(site, edition):
    """At most 5 % of the book's text outputs scroll sideways (a wide table may need to):
    the counts test_page_works_in_a_browser wrote for every page of the edition."""
    site(edition)
    report = SCREENSHOTS / edition / "wide-outputs.txt"
    counts = {}
    for line in report.read_text().splitlines() if report.exists() else []:
        page, rest = line.split(": ", 1)
        wide, _, total = rest.split()[:3]
        counts[page] = (int(wide), int(total))
    if set(counts) != set(PAGES):
        pytest.skip("needs test_page_works_in_a_browser to have visited every page first")
    wide = sum(w for w, _ in counts.values())
    total = sum(t for _, t in counts.values())
    pages = {page: w for page, (w, _) in counts.items() if w}
    assert wide <= MAX_WIDE_OUTPUTS * total, (
        f"{wide} of {total} text outputs are wider than the page, by page: {pages}"
    )


@pytest.mark.parametrize("edition", EDITIONS)
def test_search_finds_a_term(browser, site, edition):
    """The search page lists pages for a word of the book, and none for a made-up word."""
    build, base = site(edition)
    found = {}
    for term in ("window", "qzxwvj"):
        browser.get(f"{base}search.html?q={term}")
        # Sphinx writes a summary line ("Search finished, found N pages ..." or
        # "Your search did not match any documents") when it is done.
        _wait(
            browser,
            "(document.querySelector('#search-results p.search-summary') || {}).textContent",
        )
        found[term] = browser.execute_script(
            "return [...document.querySelectorAll('#search-results ul.search li a')]"
            ".map(a => a.href)"
        )
    assert len(found["window"]) >= 3, found["window"]
    targets = {urlsplit(link).path.lstrip("/") for link in found["window"]}
    assert all((build.html / target).exists() for target in targets), targets
    assert any(target.removesuffix(".html") in PAGES for target in targets), targets
    assert found["qzxwvj"] == []


def test_chinese_search_finds_a_chinese_term(browser, site):
    """Sphinx's Chinese search (words split by jieba) finds the chapter of a Chinese term."""
    _, base = site("zh")
    # "cyclic shift": a term of the glossary, explained in chapter 4.
    browser.get(f"{base}search.html?q=循环移位")
    _wait(
        browser,
        "(document.querySelector('#search-results p.search-summary') || {}).textContent",
    )
    found = browser.execute_script(
        "return [...document.querySelectorAll('#search-results ul.search li a')].map(a => a.href)"
    )
    assert any(urlsplit(link).path == "/notebooks/04_windows.html" for link in found), found


@pytest.fixture(scope="session")
def bilingual_site(book_build, tmp_path_factory):
    """Both editions laid out as `make site` publishes them, served: (base URL)."""
    builds = {edition: book_build(edition) for edition in ("default", "zh")}
    for build in builds.values():
        assert build.returncode == 0, f"{' '.join(build.command)} failed:\n{build.log}"
    root = tmp_path_factory.mktemp("site")
    for entry in builds["default"].html.iterdir():
        (root / entry.name).symlink_to(entry)
    (root / "zh").symlink_to(builds["zh"].html)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("page", PAGES)
def test_language_switch_lands_on_the_same_page(browser, bilingual_site, page):
    """English page -> its Chinese page -> the English page again, by clicking the switch."""
    from selenium.webdriver.common.by import By

    browser.get(f"{bilingual_site}{page}.html")
    visited = []
    for _ in range(2):
        _wait(browser, "document.readyState === 'complete'")
        switch = browser.find_element(By.CSS_SELECTOR, "a.language-switch")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", switch)
        switch.click()
        _wait(browser, "document.readyState === 'complete'")
        visited.append(
            (
                urlsplit(browser.current_url).path,
                browser.execute_script("return document.documentElement.lang"),
            )
        )
    assert visited == [(f"/zh/{page}.html", "zh-CN"), (f"/{page}.html", "en")]


# --------------------------------------------------------------------------- offline edition


def test_offline_edition_serves_its_own_mathjax(site):
    """Every page with equations loads MathJax from the site; the site's size is reported."""
    offline, _ = site("offline")
    default, _ = site("default")
    mathjax = offline.html / "_static" / "mathjax"
    assert (mathjax / "tex-mml-chtml.js").exists() and (mathjax / "LICENSE").exists()
    pages_with_math = 0
    for page in PAGES:
        html = (offline.html / f"{page}.html").read_text()
        scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
        assert not [s for s in scripts if "://" in s], f"{page}: scripts from elsewhere"
        if 'class="math' in html:
            pages_with_math += 1
            assert any(
                s.split("?")[0].endswith("_static/mathjax/tex-mml-chtml.js") for s in scripts
            ), page
        # The default edition differs only in where MathJax comes from: the
        # articles are identical, so the typesetting checked offline holds online.
        article = re.compile(r"<article.*?</article>", re.S)
        theirs = (default.html / f"{page}.html").read_text()
        assert article.findall(html) == article.findall(theirs), (
            f"{page}: the editions' articles differ"
        )
    assert pages_with_math > 0
    size = sum(f.stat().st_size for f in offline.html.rglob("*") if f.is_file())
    print(f"offline edition: {size / 2**20:.1f} MiB in {offline.html}")
    # A budget: the whole of node_modules, or every MathJax bundle, would break it.
    assert size < 60 * 2**20, f"the offline edition takes {size / 2**20:.1f} MiB"
