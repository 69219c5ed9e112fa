// ChronoSeek search page. Plain ES2020, no dependencies, no build step.
// Every string that comes from the API reaches the DOM through textContent or
// an attribute setter, never through innerHTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  const els = {
    librarySize: $("library-size"),
    tabLibrary: $("tab-library"),
    tabVideo: $("tab-video"),
    panelLibrary: $("panel-library"),
    panelVideo: $("panel-video"),
    searchForm: $("search-form"),
    q: $("q"),
    saidOnly: $("said-only"),
    from: $("from"),
    until: $("until"),
    topK: $("top-k"),
    picture: $("picture"),
    pictureButton: $("picture-button"),
    videoForm: $("video-form"),
    videoSelect: $("video-select"),
    videoFilter: $("video-filter"),
    videoCount: $("video-count"),
    vq: $("vq"),
    videoTopK: $("video-top-k"),
    status: $("status"),
    results: $("results"),
    resultsActions: $("results-actions"),
    saveReel: $("save-reel"),
    player: $("player"),
    caption: $("player-caption"),
    strip: $("strip"),
  };
  const stripLabel = els.strip.querySelector(".strip-label");

  const EAGER_THUMBS = 10;

  // ---------------------------------------------------------------- formatting

  // 75.25 -> "1:15.3" (m:ss.s). Rounds to tenths first so 59.96 -> "1:00.0".
  function formatMoment(seconds) {
    const tenths = Math.max(0, Math.round(Number(seconds) * 10));
    const m = Math.floor(tenths / 600);
    const rest = (tenths - m * 600) / 10;
    return `${m}:${rest.toFixed(1).padStart(4, "0")}`;
  }

  function formatInterval(start, end) {
    return `${formatMoment(start)}–${formatMoment(end)}`;
  }

  // 3725 -> "1:02:05", 12 -> "0:12".
  function formatDuration(seconds) {
    const total = Math.max(0, Math.round(Number(seconds) || 0));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = String(total % 60).padStart(2, "0");
    return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  }

  function formatMs(ms) {
    const n = Number(ms);
    if (!Number.isFinite(n)) return "";
    return n < 10 ? `${n.toFixed(1)} ms` : `${Math.round(n)} ms`;
  }

  function plural(n, word) {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  }

  // ---------------------------------------------------------------- status line

  function setStatus(text, isError = false) {
    els.status.textContent = text;
    els.status.classList.toggle("error", isError);
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {}

  // Fetches JSON; on a 4xx/5xx throws an ApiError carrying error.message from
  // the protocol's error envelope (or the HTTP status text if there is none).
  async function getJson(url, init = {}) {
    let response;
    try {
      const headers = { Accept: "application/json", ...(init.headers || {}) };
      response = await fetch(url, { ...init, headers });
    } catch (err) {
      throw new ApiError(`Could not reach the server: ${err.message}`);
    }
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const message =
        body && body.error && typeof body.error.message === "string"
          ? body.error.message
          : `${response.status} ${response.statusText}`.trim();
      throw new ApiError(message);
    }
    if (body === null) throw new ApiError("The server sent a response that is not JSON.");
    return body;
  }

  // ---------------------------------------------------------------- library

  const videoNames = new Map(); // fingerprint -> name, for labels of searches from the URL

  async function loadVideos() {
    let data;
    try {
      data = await getJson("/api/videos");
    } catch (err) {
      els.librarySize.textContent = "Library unavailable";
      setStatus(err.message, true);
      return;
    }
    const videos = Array.isArray(data.videos) ? data.videos : [];
    const totalSeconds = videos.reduce((sum, v) => sum + (Number(v.duration) || 0), 0);
    els.librarySize.textContent =
      `${plural(videos.length, "video")} · ${formatDuration(totalSeconds)} of footage`;

    allVideos = videos;
    for (const video of videos) videoNames.set(String(video.fingerprint), String(video.name));
    listVideos();
  }

  let allVideos = [];

  // The video list, narrowed to the videos whose name or folder holds every word typed in
  // the filter (a library of thousands does not fit one drop-down).
  function listVideos() {
    const words = els.videoFilter.value.toLowerCase().split(/\s+/).filter(Boolean);
    const chosen = els.videoSelect.value;
    const matching = allVideos.filter((v) => {
      // A recording date can be typed too ("2024-07": the videos of July 2024).
      const day = typeof v.recorded_at === "string" ? `${v.recorded_at} ${localDay(v.recorded_at)}` : "";
      const text = `${v.name} ${v.source || ""} ${day}`.toLowerCase();
      return words.every((w) => text.includes(w));
    });
    els.videoSelect.replaceChildren(
      ...matching.map((video) => {
        const option = document.createElement("option");
        option.value = String(video.fingerprint);
        const recorded = typeof video.recorded_at === "string" ? `, ${localDay(video.recorded_at)}` : "";
        option.textContent = `${video.name} (${formatDuration(video.duration)}${recorded})`;
        if (video.source) option.title = String(video.source);
        return option;
      }),
    );
    if (matching.some((v) => String(v.fingerprint) === chosen)) els.videoSelect.value = chosen;
    els.videoCount.textContent = words.length ? `(${matching.length} of ${allVideos.length})` : "";
    const empty = matching.length === 0;
    els.videoSelect.disabled = empty;
    els.videoForm.querySelector("button[type=submit]").disabled = empty;
  }

  els.videoFilter.addEventListener("input", listVideos);

  // ---------------------------------------------------------------- tabs

  const tabs = [
    { tab: els.tabLibrary, panel: els.panelLibrary, input: els.q },
    { tab: els.tabVideo, panel: els.panelVideo, input: els.vq },
  ];

  function selectTab(index, focus = false) {
    tabs.forEach((t, i) => {
      const active = i === index;
      t.tab.setAttribute("aria-selected", String(active));
      t.tab.tabIndex = active ? 0 : -1;
      t.panel.hidden = !active;
    });
    if (focus) tabs[index].tab.focus();
  }

  tabs.forEach((t, i) => {
    t.tab.addEventListener("click", () => selectTab(i));
    t.tab.addEventListener("keydown", (event) => {
      let next = null;
      if (event.key === "ArrowRight") next = (i + 1) % tabs.length;
      else if (event.key === "ArrowLeft") next = (i - 1 + tabs.length) % tabs.length;
      else if (event.key === "Home") next = 0;
      else if (event.key === "End") next = tabs.length - 1;
      if (next !== null) {
        event.preventDefault();
        selectTab(next, true);
      }
    });
  });

  // ---------------------------------------------------------------- search

  let searchSerial = 0; // only the latest search may render

  function readTopK(input) {
    const n = Math.round(Number(input.value));
    if (!Number.isFinite(n) || n < 1) return 10;
    return Math.min(n, 100);
  }

  // `label` names what was searched for when it is not the text in the box
  // (a picture, a moment): the status line then says it.
  async function runSearch(url, init = {}, label = "") {
    const serial = ++searchSerial;
    setStatus(label ? `Searching for moments ${label}…` : "Searching…");
    els.results.setAttribute("aria-busy", "true");
    try {
      const data = await getJson(url, init);
      if (serial !== searchSerial) return;
      const results = Array.isArray(data.results) ? data.results : [];
      curves = data.curves && typeof data.curves === "object" ? data.curves : {};
      captionsOn = Boolean(data.probe && data.probe.kind === "said");
      shown = results;
      hideStrip(); // it drew the previous search's curve
      renderResults(results);
      const found = `${plural(results.length, "moment")} in ${formatMs(data.took_ms)}`;
      const speech = data.stats ? data.stats.videos_with_speech : undefined;
      if (speech === 0) {
        setStatus("No video has a transcript with speech yet: ingest with --audio on to listen to them.", true);
        return;
      }
      setStatus(label ? `Moments ${label}: ${found}` : found);
    } catch (err) {
      if (serial !== searchSerial) return;
      els.results.replaceChildren(); // stale cards would look like answers to this query
      els.resultsActions.hidden = true;
      setStatus(err.message, true);
    } finally {
      if (serial === searchSerial) els.results.removeAttribute("aria-busy");
    }
  }

  // Every search but a picture's is also the page's address (`?q=…`, `?video=…&q=…`,
  // `?like=…&at=…`): it can be bookmarked or shared, reloading repeats it, and Back and
  // Forward step through earlier searches.
  function remember(params, push) {
    const search = `?${params}`;
    if (push && search !== window.location.search) window.history.pushState(null, "", search);
  }

  // "Recorded from … until …": months the server takes as `from` and `until`.
  function dated(params) {
    for (const key of ["from", "until"]) {
      const value = els[key].value.trim();
      if (value) params.set(key, value);
    }
    return params;
  }

  // The browser's time zone, whose months `from` and `until` mean. Sent to the API only, not
  // kept in the page's address: a shared link means the months of whoever opens it.
  const zone = (() => {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (_) {
      return "";
    }
  })();
  function searchUrl(params) {
    const sent = new URLSearchParams(params);
    if (zone && (sent.has("from") || sent.has("until"))) sent.set("tz", zone);
    return `/api/library/search?${sent}`;
  }

  // The day a video was recorded where the browser is (`recorded_at` is RFC 3339 in UTC).
  function localDay(recordedAt) {
    const t = new Date(recordedAt);
    if (Number.isNaN(t.getTime())) return recordedAt.slice(0, 10);
    const pad = (n) => String(n).padStart(2, "0");
    return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}`;
  }

  // Words in the library: what is seen (`q`), or, with `said`, where they are said (the
  // transcripts).
  function searchWords(q, topK, push, said = false) {
    selectTab(0);
    els.q.value = q;
    els.saidOnly.checked = said;
    els.topK.value = String(topK);
    const params = dated(new URLSearchParams({ [said ? "said" : "q"]: q, top_k: String(topK) }));
    remember(params, push);
    runSearch(searchUrl(params), {}, said ? `where someone says “${q}”` : "");
  }

  function searchInVideo(fingerprint, q, topK, push) {
    selectTab(1);
    if (![...els.videoSelect.options].some((o) => o.value === fingerprint)) {
      els.videoFilter.value = "";
      listVideos();
    }
    els.videoSelect.value = fingerprint;
    els.vq.value = q;
    els.videoTopK.value = String(topK);
    const params = new URLSearchParams({ q, top_k: String(topK) });
    remember(new URLSearchParams({ video: fingerprint, q, top_k: String(topK) }), push);
    runSearch(`/api/videos/${encodeURIComponent(fingerprint)}/search?${params}`);
  }

  function searchLike(fingerprint, at, topK, push) {
    selectTab(0);
    const params = dated(new URLSearchParams({ like: fingerprint, at: at.toFixed(3), top_k: String(topK) }));
    remember(params, push);
    const name = videoNames.get(fingerprint) || fingerprint.slice(0, 12);
    runSearch(searchUrl(params), {}, `like ${name} at ${formatMoment(at)}`);
  }

  // The search the address names, if any (on load, and on Back/Forward).
  function searchFromAddress() {
    const p = new URLSearchParams(window.location.search);
    const k = Number(p.get("top_k"));
    const topK = Number.isFinite(k) && k >= 1 ? Math.min(Math.round(k), 100) : 10;
    const q = (p.get("q") || "").trim();
    const said = (p.get("said") || "").trim();
    const at = Number(p.get("at"));
    els.from.value = p.get("from") || "";
    els.until.value = p.get("until") || "";
    if (said) {
      searchWords(said, topK, false, true);
    } else if (p.get("like") && p.has("at") && Number.isFinite(at)) {
      searchLike(p.get("like"), at, topK, false);
    } else if (p.get("video") && q) {
      searchInVideo(p.get("video"), q, topK, false);
    } else if (q) {
      searchWords(q, topK, false);
    } else {
      searchSerial++; // a search still running belongs to the page left behind
      shown = [];
      hideStrip();
      els.results.replaceChildren();
      els.resultsActions.hidden = true;
      setStatus("");
    }
  }

  window.addEventListener("popstate", searchFromAddress);

  els.searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = els.q.value.trim();
    if (!q) {
      setStatus("Type what you are looking for, e.g. “a dog catches a frisbee”.", true);
      els.q.focus();
      return;
    }
    searchWords(q, readTopK(els.topK), true, els.saidOnly.checked);
  });

  // A picture: its bytes are the request body; the server decodes it.
  els.pictureButton.addEventListener("click", () => els.picture.click());
  els.picture.addEventListener("change", () => {
    const file = els.picture.files && els.picture.files[0];
    if (!file) return;
    const params = dated(new URLSearchParams({ top_k: String(readTopK(els.topK)) }));
    const init = {
      method: "POST",
      body: file,
      headers: { "Content-Type": file.type || "application/octet-stream" },
    };
    runSearch(searchUrl(params), init, `like ${file.name}`);
    els.picture.value = ""; // choosing the same file again searches again
  });

  // Moments like a result: the stored frame at the middle of its interval.
  function searchSimilar(result) {
    const start = Number(result.start) || 0;
    const end = Number(result.end);
    const at = Number.isFinite(end) && end > start ? (start + end) / 2 : start;
    searchLike(String(result.fingerprint), at, readTopK(els.topK), true);
  }

  // "In this video" on a card: the same words, inside that video (or, after a picture or a
  // similar-moments search, that video chosen and the box ready for words).
  function searchInside(result) {
    const fingerprint = String(result.fingerprint);
    const q = els.q.value.trim();
    const lastWasWords = new URLSearchParams(window.location.search).get("q") === q;
    if (q && lastWasWords) {
      searchInVideo(fingerprint, q, readTopK(els.videoTopK), true);
      return;
    }
    selectTab(1);
    els.videoFilter.value = "";
    listVideos();
    els.videoSelect.value = fingerprint;
    els.vq.focus();
  }

  els.videoForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const fingerprint = els.videoSelect.value;
    if (!fingerprint) {
      setStatus("Choose a video first.", true);
      return;
    }
    const q = els.vq.value.trim();
    if (!q) {
      setStatus("Type what you are looking for, e.g. “a dog catches a frisbee”.", true);
      els.vq.focus();
      return;
    }
    searchInVideo(fingerprint, q, readTopK(els.videoTopK), true);
  });

  // ---------------------------------------------------------------- relevance curves

  const SVG = "http://www.w3.org/2000/svg";
  let curves = {}; // fingerprint -> { bin_s, values } of the last search
  let shown = []; // that search's results

  // The last search's curve for a result's video, if it sent a usable one.
  function curveOf(result) {
    const curve = curves[String(result.fingerprint)];
    if (!curve || !Array.isArray(curve.values) || curve.values.length === 0) return null;
    return curve;
  }

  // Seconds the curve covers: its bins span the whole video.
  function curveSpan(curve, duration) {
    const span = Number(curve.bin_s) * curve.values.length;
    return Number.isFinite(span) && span > 0 ? span : Math.max(Number(duration) || 0, 1);
  }

  // An SVG drawing of `curve` over [0, span] seconds: one bar per bin, and behind the bars
  // a band for each of `marks` ({ start, end, current }).
  function curveSvg(curve, span, marks) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "curve");
    svg.setAttribute("viewBox", "0 0 1000 100");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("aria-hidden", "true");
    const x = (t) => Math.min(1000, Math.max(0, (Number(t) / span) * 1000));
    const rect = (cls, left, width, top, height) => {
      const r = document.createElementNS(SVG, "rect");
      r.setAttribute("class", cls);
      r.setAttribute("x", left.toFixed(2));
      r.setAttribute("width", width.toFixed(2));
      r.setAttribute("y", top.toFixed(2));
      r.setAttribute("height", height.toFixed(2));
      svg.append(r);
    };
    for (const m of marks) {
      rect(m.current ? "mark current" : "mark", x(m.start), Math.max(3, x(m.end) - x(m.start)), 0, 100);
    }
    const w = 1000 / curve.values.length;
    const bin = span / curve.values.length;
    curve.values.forEach((v, i) => {
      const h = 4 + Math.min(1, Math.max(0, Number(v) || 0)) * 92;
      // A bar inside a result is coloured: the played one strongest.
      const within = marks.filter((m) => Number(m.start) < (i + 1) * bin && Number(m.end) > i * bin);
      const cls = within.some((m) => m.current) ? "bar current" : within.length ? "bar hit" : "bar";
      rect(cls, i * w, Math.max(w * 0.8, 0.5), 100 - h, h);
    });
    return svg;
  }

  // The strip under the player: the played video's curve, every result interval in it, a
  // tick where each shot starts, a playhead; choosing a place in it (click, arrows,
  // Home/End, "." and "," for the next and previous shot) plays from there.
  let strip = null; // { span, duration, step, cuts, playhead }

  function hideStrip() {
    strip = null;
    els.strip.hidden = true;
  }

  function showStrip(result) {
    const curve = curveOf(result);
    if (!curve || !result.media) {
      hideStrip();
      return;
    }
    const duration = Number(result.duration) > 0 ? Number(result.duration) : curveSpan(curve, 0);
    const span = curveSpan(curve, duration);
    const marks = shown
      .filter((r) => r.fingerprint === result.fingerprint)
      .map((r) => ({ start: r.start, end: r.end, current: r === result }));
    const svg = curveSvg(curve, span, marks);
    const cuts = (Array.isArray(curve.cuts) ? curve.cuts : [])
      .map(Number)
      .filter((c) => Number.isFinite(c) && c > 0 && c < span);
    for (const c of cuts) {
      const tick = document.createElementNS(SVG, "line");
      const x = ((c / span) * 1000).toFixed(2);
      tick.setAttribute("class", "cut");
      tick.setAttribute("x1", x);
      tick.setAttribute("x2", x);
      tick.setAttribute("y1", "0");
      tick.setAttribute("y2", "100");
      svg.append(tick);
    }
    const playhead = document.createElementNS(SVG, "line");
    playhead.setAttribute("class", "playhead");
    playhead.setAttribute("y1", "0");
    playhead.setAttribute("y2", "100");
    svg.append(playhead);
    els.strip.replaceChildren(stripLabel, svg);
    els.strip.setAttribute("aria-valuemin", "0");
    els.strip.setAttribute("aria-valuemax", duration.toFixed(1));
    strip = { span, duration, step: Math.max(1, span / curve.values.length), cuts, playhead };
    els.strip.hidden = false;
    movePlayhead(Number(result.start) || 0);
  }

  function movePlayhead(t) {
    if (!strip) return;
    const x = Math.min(1000, Math.max(0, (t / strip.span) * 1000)).toFixed(2);
    strip.playhead.setAttribute("x1", x);
    strip.playhead.setAttribute("x2", x);
    els.strip.setAttribute("aria-valuenow", t.toFixed(1));
    els.strip.setAttribute("aria-valuetext", `${formatMoment(t)} of ${formatDuration(strip.duration)}`);
  }

  function playFrom(t) {
    if (!strip) return;
    const at = Math.min(Math.max(0, t), Math.max(0, strip.duration - 0.05));
    stopAt = null; // a place chosen on the strip plays on
    els.player.currentTime = at;
    movePlayhead(at);
    const playing = els.player.play();
    if (playing && typeof playing.catch === "function") playing.catch(() => {});
  }

  els.strip.addEventListener("click", (event) => {
    const svg = els.strip.querySelector("svg");
    if (!strip || !svg) return;
    const box = svg.getBoundingClientRect();
    if (box.width <= 0) return;
    playFrom(((event.clientX - box.left) / box.width) * strip.span);
  });

  els.strip.addEventListener("keydown", (event) => {
    if (!strip) return;
    const now = els.player.currentTime || 0;
    // The next shot starts at the first cut after now; the previous at the last cut a little
    // before now (so "," from just after a cut goes to the one before it), else the start.
    const next = strip.cuts.find((c) => c > now + 0.01);
    const previous = strip.cuts.filter((c) => c < now - 0.5).pop();
    const moves = {
      ArrowLeft: now - strip.step,
      ArrowRight: now + strip.step,
      PageDown: now - strip.duration / 10,
      PageUp: now + strip.duration / 10,
      Home: 0,
      End: strip.duration,
      ".": next === undefined ? now : next,
      ",": previous === undefined ? 0 : previous,
    };
    if (!(event.key in moves)) return;
    event.preventDefault();
    playFrom(moves[event.key]);
  });

  // ---------------------------------------------------------------- results

  function renderResults(results) {
    // The moments the page can play, in rank order, as one MP4 (`/reel`, the CLI's --reel).
    const playable = results.filter((r) => r.media);
    els.resultsActions.hidden = playable.length === 0;
    if (playable.length) {
      const params = new URLSearchParams();
      for (const r of playable) params.append("m", `${r.fingerprint}:${r.start}:${r.end}`);
      els.saveReel.href = `/reel?${params}`;
      els.saveReel.textContent = `Save these ${plural(playable.length, "moment")} as one video`;
    }
    const cards = results.map((result, index) => buildCard(result, index));
    if (cards.length === 0) {
      const empty = document.createElement("p");
      empty.className = "empty";
      empty.textContent = "No moments matched.";
      els.results.replaceChildren(empty);
      return;
    }
    els.results.replaceChildren(...cards);
  }

  function buildCard(result, index) {
    const interval = formatInterval(result.start, result.end);
    const score = Number(result.score).toFixed(3);

    const card = document.createElement("article");
    card.className = "card";
    card.dataset.fingerprint = String(result.fingerprint);
    card.dataset.start = String(result.start);
    card.dataset.end = String(result.end);

    // The card's main area is a button that plays the moment.
    const play = document.createElement("button");
    play.type = "button";
    play.className = "card-play";
    play.setAttribute("aria-label", `Play ${result.name}, ${interval}, score ${score}`);

    // Videos known only by URL (or whose file changed since ingest) have no local media:
    // a plain placeholder, and the card does not play.
    let img;
    if (result.thumbnail) {
      img = document.createElement("img");
      img.className = "thumb";
      img.loading = index < EAGER_THUMBS ? "eager" : "lazy";
      img.decoding = "async";
      img.alt = "";
      img.src = String(result.thumbnail);
    } else {
      img = document.createElement("div");
      img.className = "thumb no-preview";
      img.textContent = "no local file";
    }

    const body = document.createElement("div");
    body.className = "card-body";

    const name = document.createElement("div");
    name.className = "card-name";
    name.textContent = String(result.name);
    name.title = String(result.source ?? result.name);

    const meta = document.createElement("div");
    meta.className = "card-meta";
    const when = document.createElement("span");
    when.className = "interval";
    when.textContent = interval;
    const scoreEl = document.createElement("span");
    scoreEl.className = "score";
    scoreEl.textContent = score;
    meta.append(when, scoreEl);

    const rank = document.createElement("div");
    rank.className = "card-rank";
    rank.textContent = `#${result.rank ?? index + 1}`;

    body.append(name, meta);
    // When the video was recorded, if its file says.
    if (typeof result.recorded_at === "string" && result.recorded_at) {
      const recorded = document.createElement("time");
      recorded.className = "card-recorded";
      recorded.dateTime = result.recorded_at;
      recorded.title = `Recorded ${result.recorded_at}`;
      recorded.textContent = localDay(result.recorded_at);
      body.append(recorded);
    }
    // What was said during the moment (videos that were listened to).
    if (typeof result.said === "string" && result.said) {
      const said = document.createElement("p");
      said.className = "card-said";
      // The words a search of what is said found are marked.
      const parts = Array.isArray(result.said_parts) ? result.said_parts : [{ text: result.said, mark: false }];
      said.append("“");
      for (const part of parts) {
        if (part.mark) {
          const mark = document.createElement("mark");
          mark.textContent = String(part.text);
          said.append(mark);
        } else {
          said.append(String(part.text));
        }
      }
      said.append("”");
      said.title = result.said;
      body.append(said);
    }
    // The same moment in copies of this video (the same footage stored again), in clips cut
    // from it, or in the longer video it was cut from, folded here.
    const copies = Array.isArray(result.copies) ? result.copies : [];
    if (copies.length) {
      const also = document.createElement("p");
      also.className = "card-copies";
      const names = copies.map((c) => {
        const at = formatInterval(c.start, c.end);
        if (c.relation === "clip") return `${c.name} (a clip of it, ${at})`;
        if (c.relation === "original") return `${c.name} (cut from it, ${at})`;
        return String(c.name);
      });
      also.textContent = `Also in ${names.join(", ")}`;
      also.title = `The same footage is stored ${plural(copies.length, "more time")}: ${names.join(", ")}`;
      body.append(also);
    }
    // Where the moment lies in its video, over how well the search matches along it.
    const curve = curveOf(result);
    if (curve) {
      body.append(curveSvg(curve, curveSpan(curve, result.duration), [{ start: result.start, end: result.end, current: true }]));
    }
    body.append(rank);
    play.append(img, body);
    play.addEventListener("click", () => playResult(card, result));

    const similar = document.createElement("button");
    similar.type = "button";
    similar.className = "card-similar";
    similar.textContent = "Similar moments";
    similar.setAttribute("aria-label", `Moments like ${result.name} at ${interval}`);
    similar.addEventListener("click", () => searchSimilar(result));

    const actions = document.createElement("div");
    actions.className = "card-actions";
    actions.append(similar);
    // From the whole library into this one video (videos the page can play only).
    if (!els.panelLibrary.hidden && result.media) {
      const inside = document.createElement("button");
      inside.type = "button";
      inside.className = "card-similar card-inside";
      inside.textContent = "In this video";
      inside.setAttribute("aria-label", `Search inside ${result.name}`);
      inside.addEventListener("click", () => searchInside(result));
      actions.append(inside);
    }
    // The moment as an MP4 download (local files only).
    if (result.clip) {
      const save = document.createElement("a");
      save.className = "card-save";
      save.href = String(result.clip);
      save.download = "";
      save.textContent = "Save clip";
      save.setAttribute("aria-label", `Save ${result.name} ${interval} as a clip`);
      actions.append(save);
    }

    card.append(play, actions);
    return card;
  }

  // ---------------------------------------------------------------- player

  let currentMedia = null; // absolute URL of what the player has loaded
  let seekSerial = 0; // cancels a pending seek when another card is chosen
  let stopAt = null; // pause once when playback first passes this time
  let captionsOn = false; // a search for what is said shows the captions at once

  // What was said in the video (its transcript as WebVTT), offered by the player's captions
  // button; shown at once when the search was for spoken words.
  function setCaptions(result) {
    const player = els.player;
    if (player.dataset.subtitles !== String(result.subtitles || "")) {
      for (const old of player.querySelectorAll("track")) old.remove();
      player.dataset.subtitles = String(result.subtitles || "");
      if (result.subtitles) {
        const track = document.createElement("track");
        track.kind = "captions";
        track.label = "What is said";
        track.src = new URL(String(result.subtitles), window.location.href).href;
        player.append(track);
      }
    }
    // Otherwise the captions stay as the viewer set them (a new video's start off).
    if (captionsOn) for (const t of player.textTracks) t.mode = "showing";
  }

  function playResult(card, result) {
    for (const other of els.results.querySelectorAll(".card.selected")) {
      other.classList.remove("selected");
    }
    card.classList.add("selected");

    const start = Number(result.start) || 0;
    const end = Number(result.end);
    els.caption.replaceChildren();
    const strong = document.createElement("strong");
    strong.textContent = String(result.name);
    els.caption.append(strong, ` · ${formatInterval(result.start, result.end)}`);

    const player = els.player;
    player.closest(".player-panel").classList.remove("idle");
    showStrip(result);
    if (!result.media) {
      setStatus(`${result.name} is not a local file in the store; nothing to play`, true);
      return;
    }
    const media = new URL(String(result.media), window.location.href).href;
    setCaptions(result);
    const serial = ++seekSerial;
    stopAt = null;

    const seekAndPlay = () => {
      if (serial !== seekSerial) return;
      player.currentTime = start;
      stopAt = Number.isFinite(end) && end > start ? end : null;
      const playing = player.play();
      if (playing && typeof playing.catch === "function") playing.catch(() => {});
    };

    if (media !== currentMedia) {
      currentMedia = media;
      player.addEventListener("loadedmetadata", seekAndPlay, { once: true });
      player.src = media;
      player.load();
    } else if (player.readyState >= HTMLMediaElement.HAVE_METADATA) {
      seekAndPlay();
    } else {
      player.addEventListener("loadedmetadata", seekAndPlay, { once: true });
    }
  }

  els.player.addEventListener("timeupdate", () => {
    movePlayhead(els.player.currentTime);
    if (stopAt === null) return;
    const t = els.player.currentTime;
    if (t >= stopAt) {
      // Pause only when playback ran into the end; a manual jump far past it
      // simply clears the stop point.
      if (t < stopAt + 1.0) els.player.pause();
      stopAt = null;
    }
  });

  els.player.addEventListener("error", () => {
    if (!currentMedia) return;
    currentMedia = null; // let the next click retry loading it
    els.caption.textContent = "This video could not be played.";
  });

  loadVideos().then(searchFromAddress);
})();
