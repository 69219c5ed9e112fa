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
    topK: $("top-k"),
    picture: $("picture"),
    pictureButton: $("picture-button"),
    videoForm: $("video-form"),
    videoSelect: $("video-select"),
    vq: $("vq"),
    videoTopK: $("video-top-k"),
    status: $("status"),
    results: $("results"),
    player: $("player"),
    caption: $("player-caption"),
  };

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

    els.videoSelect.replaceChildren();
    for (const video of videos) {
      const option = document.createElement("option");
      option.value = String(video.fingerprint);
      option.textContent = `${video.name} (${formatDuration(video.duration)})`;
      els.videoSelect.append(option);
    }
    const empty = videos.length === 0;
    els.videoSelect.disabled = empty;
    els.videoForm.querySelector("button[type=submit]").disabled = empty;
  }

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
      renderResults(results);
      const found = `${plural(results.length, "moment")} in ${formatMs(data.took_ms)}`;
      setStatus(label ? `Moments ${label}: ${found}` : found);
    } catch (err) {
      if (serial !== searchSerial) return;
      els.results.replaceChildren(); // stale cards would look like answers to this query
      setStatus(err.message, true);
    } finally {
      if (serial === searchSerial) els.results.removeAttribute("aria-busy");
    }
  }

  els.searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = els.q.value.trim();
    if (!q) {
      setStatus("Type what you are looking for, e.g. “a dog catches a frisbee”.", true);
      els.q.focus();
      return;
    }
    const params = new URLSearchParams({ q, top_k: String(readTopK(els.topK)) });
    runSearch(`/api/library/search?${params}`);
  });

  // A picture: its bytes are the request body; the server decodes it.
  els.pictureButton.addEventListener("click", () => els.picture.click());
  els.picture.addEventListener("change", () => {
    const file = els.picture.files && els.picture.files[0];
    if (!file) return;
    const params = new URLSearchParams({ top_k: String(readTopK(els.topK)) });
    const init = {
      method: "POST",
      body: file,
      headers: { "Content-Type": file.type || "application/octet-stream" },
    };
    runSearch(`/api/library/search?${params}`, init, `like ${file.name}`);
    els.picture.value = ""; // choosing the same file again searches again
  });

  // Moments like a result: the stored frame at the middle of its interval.
  function searchSimilar(result) {
    const start = Number(result.start) || 0;
    const end = Number(result.end);
    const at = Number.isFinite(end) && end > start ? (start + end) / 2 : start;
    const params = new URLSearchParams({
      like: String(result.fingerprint),
      at: at.toFixed(3),
      top_k: String(readTopK(els.topK)),
    });
    selectTab(0);
    runSearch(`/api/library/search?${params}`, {}, `like ${result.name} at ${formatMoment(at)}`);
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
    const params = new URLSearchParams({ q, top_k: String(readTopK(els.videoTopK)) });
    runSearch(`/api/videos/${encodeURIComponent(fingerprint)}/search?${params}`);
  });

  // ---------------------------------------------------------------- results

  function renderResults(results) {
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

    body.append(name, meta, rank);
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
    if (!result.media) {
      setStatus(`${result.name} is not a local file in the store; nothing to play`, true);
      return;
    }
    const media = new URL(String(result.media), window.location.href).href;
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

  loadVideos();
})();
