#!/usr/bin/env python3
"""End-to-end check of ChronoSeek's web page in a real (headless) Chromium.

What it proves, against a running `chronoseek` server: the page loads and
fills its video list from /api/videos; a query typed into the search box and
submitted with a mouse click comes back as result cards; the first card's
thumbnail is a decodable image; clicking the card loads the video into the
player and seeks it to the moment's start; the strip under the player draws
how well the query matches along the video and plays from where it is clicked
(or from its start on Home); and no JavaScript exception was thrown on the way. It writes a screenshot as evidence. Then it asks for moments
similar to the first card (its "Similar moments" button) and, with --picture, searches
with a picture through the page's file input.

It talks the Chrome DevTools Protocol over `--remote-debugging-pipe`
(NUL-terminated JSON: commands on the browser's fd 3, replies and events on its
fd 4) so that it needs nothing beyond the Python standard library and the
`chromium` binary: no websocket client, no selenium, no network port.

Usage:
  python3 tests/browser/library_page.py --url http://127.0.0.1:PORT/ \
      --query "a dog" --screenshot out.png [--picture still.png] [--chromium /usr/bin/chromium] [--timeout 60]
  python3 tests/browser/library_page.py --url ... --query "a dog" --cards-only   # the result cards' text only
Exit 0 with one JSON line on stdout, or exit 1 with `FAIL: <step>: <detail>`
on stderr. `--timeout` is the limit, in seconds, for each step.
"""
import argparse, base64, fcntl, json, os, select, shutil, signal, subprocess, sys, tempfile, time


class Failure(Exception):
    def __init__(self, step, detail):
        super().__init__(f"{step}: {detail}")


class Browser:
    """A chromium process and the CDP pipe to it (one page session)."""

    def __init__(self, binary, workdir):
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # Move the child's ends above fd 10 so dup2 onto 3/4 cannot clobber them.
        child_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser_r), os.close(from_browser_w)

        def wire_fds():  # runs in the child just before exec
            os.dup2(child_r, 3)  # os.dup2 makes 3 and 4 inheritable
            os.dup2(child_w, 4)

        self.log_path = os.path.join(workdir, "chromium.log")
        flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                 f"--user-data-dir={os.path.join(workdir, 'profile')}", "--window-size=1280,900",
                 "--autoplay-policy=no-user-gesture-required", "--mute-audio", "about:blank"]
        with open(self.log_path, "wb") as log:
            # close_fds=False: pass_fds would close 3/4 after preexec_fn made them;
            # every other fd Python opened is close-on-exec anyway.
            self.proc = subprocess.Popen([binary, *flags], stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, close_fds=False, preexec_fn=wire_fds,
                                         start_new_session=True)
        os.close(child_r), os.close(child_w)
        self.wfd, self.rfd = to_browser_w, from_browser_r
        self.buf, self.next_id, self.events, self.session = b"", 0, [], None

    def _read(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from chromium")
            if select.select([self.rfd], [], [], left)[0]:
                chunk = os.read(self.rfd, 1 << 20)
                if not chunk:
                    raise EOFError("chromium closed the pipe (exited?)")
                self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, params=None, timeout=30, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.wfd, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def eval(self, expression, timeout=30):
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True}, timeout)
        if "exceptionDetails" in res:
            raise RuntimeError(f"evaluating {expression[:60]!r}: {describe(res['exceptionDetails'])}")
        return res.get("result", {}).get("value")

    def click(self, selector, timeout, across=0.5):
        """A mouse click on the element, `across` of the way from its left edge."""
        rect = self.eval(f"""(() => {{ const el = document.querySelector({json.dumps(selector)});
            if (!el) return null; el.scrollIntoView({{block: 'center'}});
            const r = el.getBoundingClientRect();
            return {{x: r.left + r.width * {across}, y: r.top + r.height / 2}}; }})()""", timeout)
        if not rect:
            raise RuntimeError(f"no element matches {selector}")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": rect["x"], "y": rect["y"],
                                                   "button": "left", "clickCount": 1}, timeout)

    def close(self):
        try:
            self.call("Browser.close", timeout=3, session=False)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:  # the renderer/zygote children share the session we started
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        os.close(self.wfd), os.close(self.rfd)


def describe(details):
    exc = details.get("exception") or {}
    where = f" at {details.get('url', '?')}:{details.get('lineNumber', '?')}" if details.get("url") else ""
    return (exc.get("description") or details.get("text") or "exception") + where


def wait_for(browser, step, expression, timeout, diagnose="null", fail_if="null"):
    """Poll a JS expression until truthy; fail early when `fail_if` gives a string."""
    deadline = time.monotonic() + timeout
    while True:
        value = browser.eval(expression, timeout)
        if value:
            return value
        early = browser.eval(fail_if, timeout)
        if early:
            raise Failure(step, early)
        if time.monotonic() > deadline:
            raise Failure(step, f"timed out after {timeout}s; state: {browser.eval(diagnose, timeout)}")
        time.sleep(0.1)


def check_page_errors(browser):
    errors = [describe(e["params"]["exceptionDetails"]) for e in browser.events
              if e.get("method") == "Runtime.exceptionThrown"]
    if errors:
        raise Failure("page errors", "; ".join(errors))


STATUS = "document.getElementById('status').textContent"
STATUS_ERROR = f"document.getElementById('status').classList.contains('error') && {STATUS}"


def run(args, browser):
    t = args.timeout
    step = "launch"
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"}, t, session=False)
        browser.session = browser.call("Target.attachToTarget", {"targetId": target["targetId"],
                                       "flatten": True}, t, session=False)["sessionId"]
        browser.call("Runtime.enable", timeout=t)
        browser.call("Page.enable", timeout=t)

        step = "load page"
        # The browser is where the user is: far from UTC (UTC+14), so a recording at 15:30 UTC
        # is the next day there, and the page must say so and search that day.
        browser.call("Emulation.setTimezoneOverride", {"timezoneId": args.timezone}, t)
        nav = browser.call("Page.navigate", {"url": args.url}, t)
        if nav.get("errorText"):
            raise Failure(step, f"{args.url}: {nav['errorText']}")
        wait_for(browser, step, "document.readyState === 'complete' && location.href !== 'about:blank'", t,
                 diagnose="document.readyState")
        step = "load video list"
        wait_for(browser, step, "document.querySelectorAll('#video-select option').length >= 1",
                 t, diagnose=f"'header: ' + document.getElementById('library-size').textContent + '; status: ' + {STATUS}",
                 fail_if=STATUS_ERROR)
        check_page_errors(browser)

        step = "type query"
        browser.eval("document.getElementById('q').focus()", t)
        browser.call("Input.insertText", {"text": args.query}, t)
        typed = browser.eval("document.getElementById('q').value", t)
        if typed != args.query:
            raise Failure(step, f"#q holds {typed!r}, expected {args.query!r}")
        step = "submit search"
        browser.click("#search-form button[type=submit]", t)

        step = "wait for results"
        wait_for(browser, step, """(() => { const c = document.querySelector('#results .card');
            const img = c && c.querySelector('img.thumb');
            return !!img && img.complete && img.naturalWidth > 0; })()""", t,
                 diagnose=f"""'cards: ' + document.querySelectorAll('#results .card').length + '; status: ' + {STATUS}
                    + '; first thumb: ' + (document.querySelector('#results .card img.thumb') || {{}}).src""",
                 fail_if=STATUS_ERROR)
        if args.cards_only:
            # What each card says, copies folded under it included; nothing clicked.
            listed = browser.eval("""Array.from(document.querySelectorAll('#results .card'), c => ({
                fingerprint: c.dataset.fingerprint, start: Number(c.dataset.start), end: Number(c.dataset.end),
                copies: (c.querySelector('.card-copies') || {}).textContent || null,
                copies_title: (c.querySelector('.card-copies') || {}).title || null}))""", t)
            check_page_errors(browser)
            return {"cards": listed}
        cards = browser.eval("document.querySelectorAll('#results .card').length", t)
        thumb_width = browser.eval("document.querySelector('#results .card img.thumb').naturalWidth", t)
        save_href = browser.eval("(document.querySelector('#results .card .card-save') || {}).href || null", t)
        reel = browser.eval("""(() => { const a = document.getElementById('save-reel');
            return {hidden: document.getElementById('results-actions').hidden, href: a.href, text: a.textContent,
                    playable: document.querySelectorAll('#results .card .card-save').length}; })()""", t)
        check_page_errors(browser)

        step = "click first card"
        first = browser.eval("""(() => { const d = document.querySelector('#results .card').dataset;
            return {fingerprint: d.fingerprint, start: Number(d.start), end: Number(d.end)}; })()""", t)
        if not isinstance((first or {}).get("start"), (int, float)):
            raise Failure(step, f"first card has no numeric data-start: {first}")
        browser.click("#results .card .card-play", t)
        start = first["start"]
        step = "seek player"
        # Also insist that playback did not begin before the moment: when seeking
        # fails (a /media route that ignores Range requests) the video would
        # autoplay from 0 and drift into the window, which proves nothing.
        ranges = "x => Array.from({length: x.length}, (_, i) => [x.start(i), x.end(i)])"
        current = wait_for(browser, step, f"""(() => {{ const p = document.getElementById('player');
            const early = p.played.length > 0 && p.played.start(0) < {start} - 0.6;
            const ok = p.readyState >= 1 && !early && (Math.abs(p.currentTime - {start}) < 0.6
                                                       || p.currentTime >= {start} - 0.05);
            return ok ? {{t: p.currentTime}} : null; }})()""", t,
            diagnose=f"""(() => {{ const p = document.getElementById('player'), r = {ranges};
                return {{src: p.currentSrc, readyState: p.readyState, currentTime: p.currentTime,
                        seekable: r(p.seekable)}}; }})()""",
            fail_if=f"""(() => {{ const p = document.getElementById('player'), r = {ranges};
                if (p.error) return `media error ${{p.error.code}}: ${{p.error.message}}`;
                if (p.played.length > 0 && p.played.start(0) < {start} - 0.6)
                    return `played from ${{p.played.start(0)}}s instead of seeking to {start}s `
                        + `(seekable: ${{JSON.stringify(r(p.seekable))}}; does /media answer Range requests?)`;
                return null; }})()""")["t"]
        # A video someone listened to offers its transcript as captions, off until asked for.
        captions_before = browser.eval("""Array.from(document.getElementById('player').textTracks,
            t => ({kind: t.kind, label: t.label, mode: t.mode}))""", t)
        check_page_errors(browser)

        step = "relevance strip"
        # Under the player: one bar per bin of the played video's curve, the moment's band;
        # on every card a small copy. The tallest bar should lie inside the moment.
        strip = wait_for(browser, step, """(() => { const s = document.getElementById('strip');
            if (s.hidden) return null;
            const bars = Array.from(s.querySelectorAll('rect.bar'), b => Number(b.getAttribute('height')));
            const mark = s.querySelector('rect.mark.current');
            if (!bars.length || !mark) return null;
            return {bars: bars.length, tallest: bars.indexOf(Math.max(...bars)),
                    mark: [Number(mark.getAttribute('x')), Number(mark.getAttribute('width'))],
                    duration: Number(s.getAttribute('aria-valuemax')),
                    card_curves: document.querySelectorAll('#results .card svg.curve').length}; })()""", t,
            diagnose="document.getElementById('strip').outerHTML.slice(0, 300)")
        browser.click("#strip svg", t, across=0.9)
        strip["clicked_at"] = wait_for(browser, step, """(() => { const p = document.getElementById('player');
            return !p.seeking && p.currentTime > 1 ? p.currentTime : null; })()""", t,
            diagnose="document.getElementById('player').currentTime")
        browser.eval("document.getElementById('strip').focus()", t)
        for kind in ("keyDown", "keyUp"):
            browser.call("Input.dispatchKeyEvent", {"type": kind, "key": "Home", "code": "Home",
                                                    "windowsVirtualKeyCode": 36}, t)
        strip["home"] = wait_for(browser, step, """(() => { const p = document.getElementById('player');
            return !p.seeking && p.currentTime < 1 ? {t: p.currentTime,
                text: document.getElementById('strip').getAttribute('aria-valuetext')} : null; })()""", t,
            diagnose="document.getElementById('player').currentTime")
        # A tick where each shot starts; "." plays from the next shot, "," from the previous.
        strip["cut_ticks"] = browser.eval("""Array.from(document.querySelectorAll('#strip line.cut'),
            l => Number(l.getAttribute('x1')))""", t)
        browser.eval("document.getElementById('player').pause()", t)
        for name, key, code, vk in (("next_shot", ".", "Period", 190), ("next_again", ".", "Period", 190),
                                    ("previous_shot", ",", "Comma", 188)):
            before = browser.eval("document.getElementById('player').currentTime", t)
            for kind in ("keyDown", "keyUp"):
                browser.call("Input.dispatchKeyEvent", {"type": kind, "key": key, "code": code,
                                                        "windowsVirtualKeyCode": vk}, t)
            strip[name] = wait_for(browser, step, f"""(() => {{ const p = document.getElementById('player');
                return !p.seeking && Math.abs(p.currentTime - {before}) > 0.5 ? p.currentTime : null; }})()""", t,
                diagnose="document.getElementById('player').currentTime")
            browser.eval("document.getElementById('player').pause()", t)
        # Back to the start for the screenshot (the red moment's first frame).
        for kind in ("keyDown", "keyUp"):
            browser.call("Input.dispatchKeyEvent", {"type": kind, "key": "Home", "code": "Home",
                                                    "windowsVirtualKeyCode": 36}, t)
        wait_for(browser, step, """(() => { const p = document.getElementById('player');
            return !p.seeking && p.currentTime < 1; })()""", t, diagnose="document.getElementById('player').currentTime")
        browser.eval("document.getElementById('player').pause()", t)
        check_page_errors(browser)

        step = "screenshot"
        try:  # give the seeked frame a moment to paint; not required
            wait_for(browser, step, "document.getElementById('player').readyState >= 2", min(t, 3))
        except Failure:
            pass
        png = base64.b64decode(browser.call("Page.captureScreenshot", {"format": "png"}, t)["data"])
        with open(args.screenshot, "wb") as f:
            f.write(png)
        check_page_errors(browser)

        step = "similar moments"
        browser.click("#results .card .card-similar", t)
        similar = wait_for(browser, step, f"""(() => {{ const s = {STATUS};
            if (!s.startsWith('Moments like')) return null;
            return Array.from(document.querySelectorAll('#results .card'), c => ({{
                fingerprint: c.dataset.fingerprint, start: Number(c.dataset.start), end: Number(c.dataset.end)}})); }})()""",
            t, diagnose=STATUS, fail_if=STATUS_ERROR)
        check_page_errors(browser)

        step = "address"
        # The similar-moments search is the address now; Back returns to the words' search
        # (same first card, the address `?q=`), and a fresh load of an address runs its search.
        history = {"similar": browser.eval("location.search", t)}
        browser.eval("history.back()", t)
        history["back"] = wait_for(browser, step, f"""(() => {{ const c = document.querySelector('#results .card');
            if (!location.search.startsWith('?q=') || {STATUS}.startsWith('Moments like') || !c
                || document.getElementById('results').getAttribute('aria-busy')) return null;
            return {{search: location.search, first: c.dataset.fingerprint, box: document.getElementById('q').value}}; }})()""",
            t, diagnose=f"location.search + ' | ' + {STATUS}", fail_if=STATUS_ERROR)
        address = f"{args.url.rstrip('/')}/?video={first['fingerprint']}&q=a+green+screen&top_k=2"
        browser.call("Page.navigate", {"url": address}, t)
        history["loaded"] = wait_for(browser, step, """(() => { const cards = document.querySelectorAll('#results .card');
            if (!cards.length || location.search.indexOf('video=') < 0) return null;
            return {tab: document.getElementById('tab-video').getAttribute('aria-selected'),
                    selected: document.getElementById('video-select').value,
                    query: document.getElementById('vq').value,
                    said: Array.from(cards, c => (c.querySelector('.card-said') || {}).textContent || null),
                    fingerprints: Array.from(cards, c => c.dataset.fingerprint)}; })()""", t,
            diagnose=STATUS, fail_if=STATUS_ERROR)
        check_page_errors(browser)

        step = "find a video"
        # The filter narrows the list by name or folder; a word in no name empties it.
        browser.eval("document.getElementById('video-filter').focus()", t)
        browser.call("Input.insertText", {"text": "webm"}, t)
        lists = {"webm": browser.eval("""Array.from(document.querySelectorAll('#video-select option'), o => o.textContent)""", t),
                 "count": browser.eval("document.getElementById('video-count').textContent", t)}
        browser.eval("document.getElementById('video-filter').value = ''", t)
        browser.call("Input.insertText", {"text": "2024-07"}, t)
        lists["dated"] = browser.eval("""Array.from(document.querySelectorAll('#video-select option'), o => o.textContent)""", t)
        browser.call("Input.insertText", {"text": " nothing-is-called-this"}, t)
        lists["none"] = browser.eval("""({options: document.querySelectorAll('#video-select option').length,
            disabled: document.querySelector('#video-form button[type=submit]').disabled})""", t)
        history["filter"] = lists

        step = "in this video"
        # Back on the words' search: a card's "In this video" runs the same words inside it.
        browser.eval("history.back()", t)
        wait_for(browser, step, f"""location.search.startsWith('?q=') && !{STATUS}.startsWith('Moments like')
            && !!document.querySelector('#results .card .card-inside')
            && !document.getElementById('results').getAttribute('aria-busy')""", t,
            diagnose=f"location.search + ' | ' + {STATUS}", fail_if=STATUS_ERROR)
        browser.click("#results .card .card-inside", t)
        history["inside"] = wait_for(browser, step, """(() => { const cards = document.querySelectorAll('#results .card');
            if (location.search.indexOf('video=') < 0 || !cards.length
                || document.getElementById('results').getAttribute('aria-busy')) return null;
            return {search: location.search, query: document.getElementById('vq').value,
                    inside_buttons: document.querySelectorAll('#results .card-inside').length,
                    fingerprints: Array.from(cards, c => c.dataset.fingerprint)}; })()""", t,
            diagnose=STATUS, fail_if=STATUS_ERROR)
        check_page_errors(browser)

        step = "what is said"
        # The checkbox turns the words into a search of what is said (the transcripts).
        browser.click("#tab-library", t)
        browser.eval("document.getElementById('q').value = ''; document.getElementById('q').focus()", t)
        browser.call("Input.insertText", {"text": "favourite"}, t)
        browser.click("#said-only", t)
        browser.click("#search-form button[type=submit]", t)
        history["said"] = wait_for(browser, step, f"""(() => {{ const s = {STATUS};
            const c = document.querySelector('#results .card');
            if (!s.startsWith('Moments where someone says') || !c) return null;
            return {{status: s, search: location.search, start: Number(c.dataset.start), end: Number(c.dataset.end),
                     said: (c.querySelector('.card-said') || {{}}).textContent || null,
                     marked: Array.from(c.querySelectorAll('.card-said mark'), m => m.textContent),
                     checked: document.getElementById('said-only').checked}}; }})()""", t,
            diagnose=STATUS, fail_if=STATUS_ERROR)
        check_page_errors(browser)
        step = "captions of what is said"
        # Playing a moment found in what is said shows the captions at once.
        browser.click("#results .card .card-play", t)
        history["said"]["captions"] = wait_for(browser, step, """(() => {
            const tracks = document.getElementById('player').textTracks;
            const tr = tracks[0];
            if (!tr || tr.mode !== 'showing' || !tr.cues || !tr.cues.length) return null;
            return {tracks: tracks.length, before: CAPTIONS_BEFORE,
                    cues: Array.from(tr.cues, c => [c.startTime, c.endTime, c.text])}; })()"""
            .replace("CAPTIONS_BEFORE", json.dumps(captions_before)), t,
            diagnose="""Array.from(document.getElementById('player').textTracks,
                t => [t.mode, t.cues ? t.cues.length : null])""")
        check_page_errors(browser)

        step = "recorded from"
        # "Recorded from June 2024": only scenes.webm carries a date (July 2024), so only its
        # moments are found, with their date on the card; the range is part of the address.
        browser.eval("""document.getElementById('said-only').checked = false;
            document.getElementById('from').value = '2024-06';
            document.getElementById('q').value = 'a red screen'""", t)
        browser.click("#search-form button[type=submit]", t)
        history["dated"] = wait_for(browser, step, f"""(() => {{ const s = {STATUS};
            const cards = document.querySelectorAll('#results .card');
            if (location.search.indexOf('from=2024-06') < 0 || !/moments? in/.test(s) || !cards.length) return null;
            return {{status: s, search: location.search,
                     api: performance.getEntriesByType('resource').map(e => e.name)
                        .filter(n => n.indexOf('/api/library/search?') >= 0 && n.indexOf('from=') >= 0).pop() || null,
                     cards: Array.from(cards, c => [c.dataset.fingerprint,
                        (c.querySelector('.card-recorded') || {{}}).textContent || null])}}; }})()""", t,
            diagnose=STATUS, fail_if=STATUS_ERROR)
        browser.eval("history.back()", t)
        history["dated"]["back"] = wait_for(browser, step, """(() => {
            if (location.search.indexOf('from=') >= 0) return null;
            return {from: document.getElementById('from').value, search: location.search}; })()""", t)
        check_page_errors(browser)

        picture = None
        if args.picture:
            step = "search with a picture"
            doc = browser.call("DOM.getDocument", {"depth": 0}, t)
            node = browser.call("DOM.querySelector", {"nodeId": doc["root"]["nodeId"], "selector": "#picture"}, t)
            browser.call("DOM.setFileInputFiles", {"files": [os.path.abspath(args.picture)],
                                                   "nodeId": node["nodeId"]}, t)
            name = os.path.basename(args.picture)
            picture = wait_for(browser, step, f"""(() => {{ const s = {STATUS};
                if (!s.startsWith('Moments like {name}:')) return null;
                const c = document.querySelector('#results .card');
                return c && {{fingerprint: c.dataset.fingerprint, start: Number(c.dataset.start),
                             end: Number(c.dataset.end), status: s}}; }})()""",
                t, diagnose=STATUS, fail_if=STATUS_ERROR)
            check_page_errors(browser)
        step = "phone"
        # A phone-sized screen: no empty player before anything plays; a card far down the
        # results plays in a player that stays at the top of the screen.
        browser.call("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844,
                                                             "deviceScaleFactor": 1, "mobile": True}, t)
        browser.call("Page.navigate", {"url": f"{args.url.rstrip('/')}/?q=a+red+screen&top_k=10"}, t)
        wait_for(browser, step, "document.querySelectorAll('#results .card').length >= 2", t,
                 diagnose=STATUS, fail_if=STATUS_ERROR)
        phone = {"idle_height": browser.eval("document.querySelector('.player-panel').getBoundingClientRect().height", t)}
        browser.click("#results .card:last-child .card-play", t)
        phone["playing"] = wait_for(browser, step, """(() => { const p = document.getElementById('player');
            if (p.readyState < 1) return null;
            const r = p.getBoundingClientRect();
            return {top: r.top, bottom: r.bottom, scrolled: window.scrollY, height: window.innerHeight}; })()""", t,
            diagnose="document.querySelector('.player-panel').className")
        check_page_errors(browser)

        step = "dark mode"
        # The system's dark mode darkens the page (background luminance, text lighter than it).
        lum = """(c => { const [r, g, b] = c.match(/\\d+/g).map(Number); return 0.2126 * r + 0.7152 * g + 0.0722 * b; })"""
        colours = f"""(() => {{ const lum = {lum}; const b = getComputedStyle(document.body);
            const card = getComputedStyle(document.querySelector('#results .card'));
            return {{body: lum(b.backgroundColor), text: lum(b.color), card: lum(card.backgroundColor)}}; }})()"""
        phone["light"] = browser.eval(colours, t)
        browser.call("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}, t)
        phone["dark"] = browser.eval(colours, t)
        png = base64.b64decode(browser.call("Page.captureScreenshot", {"format": "png"}, t)["data"])
        phone["dark_screenshot"] = args.screenshot.replace(".png", "-phone-dark.png")
        with open(phone["dark_screenshot"], "wb") as f:
            f.write(png)
        check_page_errors(browser)
    except (TimeoutError, EOFError, RuntimeError, KeyError, TypeError) as e:
        raise Failure(step, f"{type(e).__name__}: {e}") from e
    return {"cards": cards, "first": first, "thumbnail_width": thumb_width,
            "current_time": current, "screenshot": args.screenshot, "similar": similar, "picture": picture,
            "save_href": save_href, "strip": strip, "history": history, "reel": reel, "phone": phone}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--query", required=True)
    ap.add_argument("--screenshot", help="where the screenshot goes (needed unless --cards-only)")
    ap.add_argument("--cards-only", action="store_true",
                    help="stop at the first results: print each card's fingerprint, moment and copies line")
    ap.add_argument("--picture", help="a picture file to search with (the page's picture button)")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--timezone", default="Pacific/Kiritimati", help="the browser's time zone (IANA name)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds allowed per step")
    args = ap.parse_args()
    if not args.cards_only and not args.screenshot:
        ap.error("--screenshot is needed (unless --cards-only)")
    workdir = tempfile.mkdtemp(prefix="chronoseek-browser-")
    browser = None
    try:
        browser = Browser(args.chromium, workdir)
        print(json.dumps(run(args, browser)))
        return 0
    except (Failure, OSError) as e:
        step_detail = str(e) if isinstance(e, Failure) else f"launch: {e}"
        print(f"FAIL: {step_detail}", file=sys.stderr)
        if browser and browser.proc.poll() is not None:
            with open(browser.log_path, "rb") as log:
                tail = log.read()[-2000:].decode(errors="replace")
            print(f"chromium exited with {browser.proc.returncode}; log tail:\n{tail}", file=sys.stderr)
        return 1
    finally:
        if browser:
            browser.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
