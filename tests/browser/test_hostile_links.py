"""A hostile shared link in Chromium: every query parameter of every page set to a Markdown link, a Markdown image
and an HTML tag (each pointing at a listener on this machine). Each page shows such a value as plain text where it
shows it at all, draws no link, image or tag of it, and the browser fetches nothing from the listener; an uploaded
photo with such a name is the same."""
from __future__ import annotations

import http.server
import io
import threading
import urllib.parse
from collections.abc import Iterator

import pytest

from tests.browser.deadlines import PAGE_MS
from tests.browser.test_explain import page_without_data
from tests.conftest import make_photo
from ui.common.links import PAGES
from ui.common.text import WORD_JOINER

pytestmark = pytest.mark.browser

MAIN = "[data-testid=stMain]"
PAGE_TITLES = {"Explain": "Upload a photo, or press Try a sample.", "Lesson": "Early and late side by side",
               "Live": "Frames mapped", "Training": "No runs yet", "Dataset": "Oxford-IIIT Pet not found"}
"""Each page and a text it draws late, once its script has run past the link and its own inputs; Training and
Dataset take no link, so every parameter there is a stranger."""


class Listener(http.server.ThreadingHTTPServer):
    """Counts every request a browser makes to it: a tracking image or a followed link would."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                listener.paths.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    server = Listener()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with page_without_data(tmp_path_factory, "Explain") as url:
        yield url.rsplit("/", 1)[0]


def hostile_value(listener: Listener) -> str:
    """A Markdown link, a Markdown image and an HTML tag in one value: each page is loaded once for all three."""
    return (f"[Click to log in]({listener.url}/login) ![t]({listener.url}/track.png) "
            f"<img src={listener.url}/tag.png><b id=injected>bold</b>")


def injected(page, listener: Listener) -> list[str]:
    """Whatever the page drew of the listener: links, images, frames, or the injected tag."""
    return page.evaluate("""(url) => [...document.querySelectorAll('a[href], img[src], iframe[src], #injected')]
        .map(e => e.id === 'injected' ? 'the tag' : (e.href || e.src))
        .filter(s => s === 'the tag' || s.startsWith(url))""", listener.url)


def shown_text(page) -> str:
    """The main area's text as a reader sees it (the invisible word joiners that keep GFM from linking left out)."""
    return page.locator(MAIN).inner_text().replace(WORD_JOINER, "")


def test_every_parameter_of_every_page_renders_as_plain_text(browser, app_url: str, listener: Listener) -> None:
    value = hostile_value(listener)
    names = sorted({name for link in PAGES.values() for name in link} | {"run", "page", "name"})
    query = urllib.parse.urlencode({name: value for name in names})
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    found, texts = {}, {}
    try:
        for title, drawn in PAGE_TITLES.items():
            page.goto(f"{app_url}/{title}?{query}")
            page.get_by_text(drawn).first.wait_for(timeout=PAGE_MS)
            if title == "Explain":  # the one parameter Explain repeats back: the linked run it cannot find
                page.get_by_text("is not on this server").wait_for(timeout=PAGE_MS)
            page.wait_for_timeout(500)  # anything the page would fetch, it asks for as it draws
            found[title], texts[title] = injected(page, listener), shown_text(page)
    finally:
        page.close()
    assert found == {title: [] for title in PAGE_TITLES}
    assert listener.paths == []
    assert f"The linked run '{value}' is not on this server." in texts["Explain"]


def test_an_uploaded_photo_with_a_hostile_name_is_named_as_plain_text(browser, app_url: str,
                                                                      listener: Listener) -> None:
    buffer = io.BytesIO()
    make_photo(160, 120).save(buffer, format="PNG")
    name = f"![t]({listener.url.replace('//', '')}:track.png)<b id=injected>bold</b>.png"
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    try:
        page.goto(f"{app_url}/Explain")
        page.locator("[data-testid=stFileUploader]", has_text="Upload photos").locator("input[type=file]") \
            .set_input_files([{"name": name, "mimeType": "image/png", "buffer": buffer.getvalue()}])
        page.get_by_text("Downloads").first.wait_for(timeout=PAGE_MS)
        found, text = injected(page, listener), shown_text(page)
    finally:
        page.close()
    assert found == [] and listener.paths == []
    assert name in text
