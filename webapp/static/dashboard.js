/* Tote Live dashboard: GET /state on load, then one EventSource, plain DOM updates, an SVG
 * sparkline per pool.  Everything is named from the reference data (each event's `context` and
 * the `reference` events), falling back to short ids.
 * Stream names come from the page (rendered from the message catalog).  The access token, if
 * the server requires one, is read from the URL fragment (#token=...), which browsers never
 * send to servers, and traded for an HttpOnly cookie (POST /session, see login()).
 */
(() => {
  "use strict";

  const STREAMS = JSON.parse(document.getElementById("streams").textContent).map((s) => s.name);
  const MAX_POINTS = 60;
  const MAX_FEED = 60;
  const products = new Map();
  const races = new Map();
  /** Reference data by kind and id: {event: Map, product: Map, selection: Map, competitor: Map}. */
  const refs = { event: new Map(), product: new Map(), selection: new Map(), competitor: new Map() };
  let eventCount = 0;

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  // ---- formatting --------------------------------------------------------------------------
  const shortId = (id) => (id ? String(id).slice(0, 8) : "—");
  // A competitor id is the event id, a hyphen, then the runner's name ("...-1925-SHE'S-A-JOKER").
  const runnerName = (competitorId, eventId) => {
    const id = String(competitorId || "");
    const name = eventId && id.startsWith(`${eventId}-`) ? id.slice(eventId.length + 1) : id;
    return name ? title(name.replace(/-/g, " ")) : "—";
  };
  const title = (s) => s.toLowerCase().replace(/(^|[\s-])\w/g, (m) => m.toUpperCase());
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const SPORTS = { HORSERACING: "Horse racing", GREYHOUNDRACING: "Greyhounds", HARNESSRACING: "Harness" };

  /** "HORSERACING-NEWCASTLE-GB-2026-01-31-1925" -> {course, sport, country, when}. */
  function parseEvent(slug) {
    const parts = String(slug || "").split("-");
    const m = parts.length >= 7 && /^\d{4}$/.test(parts[parts.length - 1]) && /^\d{4}$/.test(parts[parts.length - 4]);
    if (!m) return { course: slug || "Unknown event", sport: "", country: "", when: "" };
    const hhmm = parts[parts.length - 1];
    const [y, mo, d] = parts.slice(-4, -1);
    return {
      course: title(parts.slice(1, -5).join(" ")),
      sport: SPORTS[parts[0]] || title(parts[0]),
      country: parts[parts.length - 5],
      when: `${hhmm.slice(0, 2)}:${hhmm.slice(2)} · ${Number(d)} ${MONTHS[Number(mo) - 1] || mo} ${y}`,
    };
  }

  const LONDON = new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/London", hour: "2-digit", minute: "2-digit", hour12: false });
  /** "14:30": a UTC start time on the Europe/London clock. */
  const londonTime = (iso) => {
    const d = iso ? new Date(iso) : null;
    return d && !isNaN(d) ? LONDON.format(d) : "";
  };
  const refValues = (kind, id) => (id && refs[kind].get(kind === "product" || kind === "selection" ? String(id).toLowerCase() : id)) || null;
  /** "Newcastle 14:30" for a race, from its reference (or the slug when none is known). */
  function raceLabel(eventId) {
    const ev = refValues("event", eventId);
    if (ev && (ev.venue || ev.scheduled_start)) return [ev.venue, londonTime(ev.scheduled_start)].filter(Boolean).join(" ");
    const info = parseEvent(eventId);
    return info.when ? `${info.course} ${info.when.split(" ·")[0]}` : info.course;
  }
  /** "Newcastle 14:30 · WIN" for a pool; its short id until its reference arrives. */
  function poolLabel(productId) {
    const pr = refValues("product", productId);
    if (!pr) return shortId(productId);
    const race = pr.event_id || (pr.event_ids || [])[0];
    const where = race ? raceLabel(race) : "";
    return [where, pr.bet_type || pr.name].filter(Boolean).join(" · ") || shortId(productId);
  }
  const selectionName = (id) => (refValues("selection", id) || {}).name || shortId(id);
  const competitorName = (id, eventId) => (refValues("competitor", id) || {}).name || runnerName(id, eventId);

  /** Remember what a message's context says (names arrive with the events themselves too). */
  function learn(ctx) {
    if (!ctx) return;
    if (ctx.event_id && (ctx.venue || ctx.scheduled_start || ctx.event_name)) {
      const known = refValues("event", ctx.event_id) || {};
      refs.event.set(ctx.event_id, { venue: ctx.venue, scheduled_start: ctx.scheduled_start, name: ctx.event_name, ...known });
    }
  }

  function money(amount, currency) {
    if (amount === undefined || amount === null || amount === "") return "—";
    const value = Number(amount);
    try {
      return new Intl.NumberFormat("en-GB", { style: "currency", currency: currency || "GBP" }).format(value);
    } catch (_) {
      return `${value.toFixed(2)} ${currency || ""}`.trim();
    }
  }

  function statusClass(status) {
    const s = String(status || "").toUpperCase();
    if (/(OPEN|ACTIVE|AVAILABLE|RUNNER$|SCHEDULED|DORMANT)/.test(s) && !/NON/.test(s)) return "good";
    if (/(CANCEL|ABANDON|VOID|WITHDRAWN|NON.?RUNNER|UNAVAILABLE|REJECT|FAIL)/.test(s)) return "bad";
    if (/(FINAL|RESULT|SETTLED|WEIGHED|PAID|ACCEPT)/.test(s)) return "info";
    if (s) return "warn";
    return "";
  }

  const pill = (status) => el("span", `pill ${statusClass(status)}`, status || "—");
  const clock = (iso) => {
    const d = iso ? new Date(iso) : new Date();
    return (isNaN(d) ? new Date() : d).toLocaleTimeString("en-GB", { hour12: false });
  };

  // ---- pools -------------------------------------------------------------------------------
  function product(id, msg) {
    if (msg && msg.context && msg.context.bet_type && !refValues("product", id)) {
      refs.product.set(String(id).toLowerCase(), { bet_type: msg.context.bet_type, event_id: msg.context.event_id, name: msg.context.product_name });
    }
    let p = products.get(id);
    if (p) return p;
    $("pools-empty")?.remove();
    const card = el("article", "pool");
    card.dataset.productId = id;
    card.innerHTML = `
      <div class="pool-top"><span class="pool-id" title="${id}"></span><span class="pool-status"></span></div>
      <p class="pool-gross">—</p>
      <div class="pool-net">net —</div>
      <svg class="spark" viewBox="0 0 200 46" preserveAspectRatio="none" aria-label="gross total over time">
        <path class="area" d=""></path><polyline class="line" points=""></polyline><circle class="tip" r="2.5" cx="-9" cy="-9"></circle>
      </svg>
      <div class="pool-foot"></div>
      <div class="dividends" hidden></div>`;
    card.querySelector(".pool-id").textContent = poolLabel(id);
    card.querySelector(".pool-status").append(pill(""));
    $("pools").append(card);
    p = { id, card, history: [], status: "", selections: new Map(), finalized: false };
    products.set(id, p);
    $("meter-pools").textContent = products.size;
    return p;
  }

  function flash(card) {
    card.classList.add("flash");
    clearTimeout(card._flash);
    card._flash = setTimeout(() => card.classList.remove("flash"), 600);
  }

  function drawSpark(p) {
    const svg = p.card.querySelector(".spark");
    const pts = p.history;
    if (!pts.length) return;
    const values = pts.map((x) => x.v);
    const lo = Math.min(...values), hi = Math.max(...values);
    const span = hi - lo || Math.max(1, Math.abs(hi) * 0.05);
    const n = pts.length;
    const flat = hi === lo;
    const xy = pts.map((x, i) => [n === 1 ? 200 : (i / (n - 1)) * 200, flat ? 24 : 42 - ((x.v - lo) / span) * 36]);
    if (n === 1) xy.unshift([0, xy[0][1]]);
    const line = xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
    svg.querySelector(".line").setAttribute("points", line);
    svg.querySelector(".area").setAttribute("d", `M0,46 L${xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" L")} L200,46 Z`);
    const [tx, ty] = xy[xy.length - 1];
    const tip = svg.querySelector(".tip");
    tip.setAttribute("cx", tx.toFixed(1));
    tip.setAttribute("cy", ty.toFixed(1));
    svg.dataset.points = String(n);
  }

  function renderFoot(p) {
    const foot = p.card.querySelector(".pool-foot");
    foot.replaceChildren();
    if (p.finalized) foot.append(el("span", "chip", "finalised"));
    const counts = {};
    for (const s of p.selections.values()) counts[s] = (counts[s] || 0) + 1;
    for (const [status, n] of Object.entries(counts)) foot.append(el("span", "chip", `${n} ${status.toLowerCase()}`));
    if (p.history.length > 1) {
      const delta = p.history[p.history.length - 1].v - p.history[0].v;
      foot.append(el("span", "chip", `${delta >= 0 ? "+" : ""}${money(delta, p.currency)} since ${clock(p.history[0].at)}`));
    }
  }

  /** Pub/Sub does not keep order: an update older than the one shown must not replace it. */
  const stamp = (msg) => Date.parse(msg.received_at) || Date.now();

  function onPoolTotal(d, msg) {
    const p = product(d.product_id, msg);
    const gross = (d.gross_amounts || [])[0] || {};
    const net = (d.net_amounts || [])[0] || {};
    const at = stamp(msg);
    if (gross.amount !== undefined) {
      const point = { v: Number(gross.amount), at: msg.received_at, t: at };
      let i = p.history.length;
      while (i > 0 && p.history[i - 1].t > at) i -= 1;
      p.history.splice(i, 0, point);
      if (p.history.length > MAX_POINTS) p.history.shift();
      drawSpark(p);
    }
    if (!(p.totalAt > at)) {
      p.totalAt = at;
      p.currency = gross.currency || "GBP";
      p.finalized = Boolean(d.is_finalized);
      p.card.querySelector(".pool-gross").textContent = money(gross.amount, gross.currency);
      p.card.querySelector(".pool-net").textContent = `net ${money(net.amount, net.currency)}`;
    }
    renderFoot(p);
    flash(p.card);
    return `${poolLabel(d.product_id)} gross ${money(gross.amount, gross.currency)}`;
  }

  function onProductStatus(d, msg) {
    const p = product(d.product_id, msg);
    const at = stamp(msg);
    if (p.statusAt > at) return `${poolLabel(d.product_id)} was ${d.status} (superseded)`;
    p.statusAt = at;
    p.status = d.status;
    p.card.querySelector(".pool-status").replaceChildren(pill(d.status));
    flash(p.card);
    return `${poolLabel(d.product_id)} is ${d.status}`;
  }

  function onSelectionStatus(d, msg) {
    const p = product(d.product_id, msg);
    p.selections.set(d.selection_id, d.status || "UNKNOWN");
    renderFoot(p);
    const name = (msg.context && msg.context.selection_name) || selectionName(d.selection_id);
    return `${name} ${d.status} (${poolLabel(d.product_id)})`;
  }

  function onDividend(d, msg) {
    const p = product(d.product_id, msg);
    const box = p.card.querySelector(".dividends");
    box.replaceChildren();
    for (const div of d.dividends || []) {
      const row = el("div");
      const label = [div.name, div.type, div.status].filter(Boolean).join(" · ") || "dividend";
      const sel = (div.selection_ids || []).map(selectionName).join(", ");
      row.append(el("span", "", sel ? `${label} (${sel})` : label), el("b", "", money(div.amount, div.currency)));
      box.append(row);
    }
    box.hidden = !box.children.length;
    flash(p.card);
    return `${poolLabel(d.product_id)} dividends: ${(d.dividends || []).length}`;
  }

  // ---- races -------------------------------------------------------------------------------
  function race(id) {
    let r = races.get(id);
    if (r) return r;
    $("races-empty")?.remove();
    const info = parseEvent(id);
    const card = el("article", "race");
    card.dataset.eventId = id;
    card.innerHTML = `<div class="race-top"><div><div class="race-title"></div><div class="race-sub"></div></div><span class="race-status"></span></div><ul class="results"></ul>`;
    card.title = id;
    $("races").prepend(card);
    r = { id, card, info, competitors: new Map() };
    races.set(id, r);
    nameRace(r);
    $("meter-races").textContent = races.size;
    return r;
  }

  /** Title "Newcastle 14:30", subtitle the race name (or date, sport, country) and non-runners. */
  function nameRace(r) {
    const ev = refValues("event", r.id);
    const out = [...r.competitors.values()].filter((s) => statusClass(s) === "bad").length;
    r.card.querySelector(".race-title").textContent = raceLabel(r.id);
    const sub = ev && ev.name ? [ev.name, ev.country] : [r.info.when.split(" · ")[1], r.info.sport, r.info.country];
    r.card.querySelector(".race-sub").textContent =
      [...sub, out ? `${out} non-runner${out > 1 ? "s" : ""}` : ""].filter(Boolean).join(" · ");
  }

  function onEventStatus(d) {
    const r = race(d.event_id);
    r.card.querySelector(".race-status").replaceChildren(pill(d.status));
    return `${raceLabel(d.event_id)} ${d.status}`;
  }

  function onEventResult(d) {
    const r = race(d.event_id);
    if (d.result_status) r.card.querySelector(".race-status").replaceChildren(pill(d.result_status));
    const list = r.card.querySelector(".results");
    list.replaceChildren();
    const rows = [...(d.competitor_results || [])].sort((a, b) => Number(a.finishing_position) - Number(b.finishing_position));
    for (const c of rows.slice(0, 6)) {
      const li = el("li");
      li.dataset.competitorId = c.competitor_id || "";
      li.append(el("b", "", c.finishing_position || "?"), el("span", "runner", competitorName(c.competitor_id, d.event_id)));
      list.append(li);
    }
    return `${raceLabel(d.event_id)} result ${d.result_status || ""}`.trim();
  }

  function onCompetitorStatus(d, msg) {
    const r = race(d.event_id);
    r.competitors.set(d.competitor_id, d.status);
    nameRace(r);
    const name = (msg.context && msg.context.competitor_name) || competitorName(d.competitor_id, d.event_id);
    return `${raceLabel(d.event_id)}: ${name} ${d.status}`;
  }

  /** A reference entity: remember it and re-name whatever it names. */
  function onReference(msg) {
    const kind = msg.kind;
    if (!refs[kind] || !msg.id) return null;
    const id = kind === "product" || kind === "selection" ? String(msg.id).toLowerCase() : msg.id;
    const known = refs[kind].get(id);
    if (known && known._asOf > Date.parse(msg.as_of)) return null; // older than what we have
    refs[kind].set(id, { ...msg.values, _asOf: Date.parse(msg.as_of) || 0 });
    if (kind === "event") {
      const r = races.get(id);
      if (r) nameRace(r);
      for (const [pid, p] of products) {
        const pr = refValues("product", pid);
        if (pr && (pr.event_id === id || (pr.event_ids || []).includes(id))) p.card.querySelector(".pool-id").textContent = poolLabel(pid);
      }
    } else if (kind === "product") {
      const p = products.get(id) || products.get(msg.id);
      if (p) p.card.querySelector(".pool-id").textContent = poolLabel(p.id);
    } else if (kind === "competitor") {
      for (const li of document.querySelectorAll(".results li")) {
        if (li.dataset.competitorId === id) li.querySelector(".runner").textContent = msg.values.name || li.querySelector(".runner").textContent;
      }
    }
    return null;
  }

  const onBet = (d, msg) => `${msg.message_type.replace(/^Bet/, "bet ")} ${shortId(d.bet_id)} ${d.status || d.reason || ""}`.trim();

  const HANDLERS = {
    "pool-total": onPoolTotal,
    "product-status": onProductStatus,
    "selection-status": onSelectionStatus,
    "pool-dividend": onDividend,
    "event-status": onEventStatus,
    "event-result": onEventResult,
    "competitor-status": onCompetitorStatus,
    "bet-lifecycle": onBet,
  };

  // ---- feed, connection --------------------------------------------------------------------
  function feed(stream, text, at) {
    const li = el("li");
    li.append(el("time", "", clock(at)), el("span", `tag ${stream}`, stream), el("span", "what", text));
    const list = $("feed");
    list.prepend(li);
    while (list.children.length > MAX_FEED) list.lastChild.remove();
  }

  function setConnection(state, text) {
    const box = $("connection");
    box.className = `connection ${state}`;
    box.querySelector(".connection-text").textContent = text;
  }

  function notice(text) {
    const box = $("notice");
    box.textContent = text;
    box.hidden = false;
  }

  /** One message (from /state or the stream): update the board, the meters and the feed. */
  function apply(stream, msg, id) {
    if (!msg || typeof msg !== "object") return;
    learn(msg.context);
    if (stream === "reference") {
      onReference(msg);
      return;
    }
    const d = msg.data || {};
    const handler = HANDLERS[stream];
    let text = msg.message_type || stream;
    try {
      if (handler) text = handler(d, msg) || text;
    } catch (err) {
      console.error("cannot render", stream, err);
    }
    eventCount += 1;
    $("meter-events").textContent = eventCount.toLocaleString("en-GB");
    if (id) $("last-id").textContent = id;
    feed(stream, text, msg.received_at);
  }

  function handle(stream, event) {
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch (_) {
      return;
    }
    apply(stream, msg, event.lastEventId);
  }

  // On load (and after a gap) the page draws the present from GET /state, then follows the
  // stream from the snapshot's last_event_id: no gap, no duplicate, on whichever instance the
  // request lands.  Later reconnects resume from the last id the browser saw (EventSource
  // sends it by itself).
  let source = null;

  // A token in the fragment (#token=...) is traded once for an HttpOnly cookie (POST /session)
  // and dropped from the address bar: fetch and EventSource then send the cookie by themselves,
  // and the token never appears in a URL the server (or Cloud Run's request log) sees.
  function login() {
    const token = new URLSearchParams(location.hash.slice(1)).get("token");
    if (!token) return Promise.resolve();
    return fetch("/session", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
      credentials: "same-origin",
    })
      .then((r) => {
        if (r.ok) history.replaceState(null, "", location.pathname + location.search);
        else console.error("the token was refused", r.status);
      })
      .catch(() => null);
  }

  /** The page's own selectors (/?event_id=...&venue=...&bet_type=...) apply to /state and /events. */
  function selectors() {
    const page = new URLSearchParams(location.search);
    const out = new URLSearchParams();
    for (const key of ["types", "product_id", "event_id", "venue", "bet_type"]) {
      for (const value of page.getAll(key)) out.append(key, value);
    }
    return out;
  }

  function connect() {
    const filters = selectors();
    const query = filters.toString() ? `?${filters}` : "";
    login()
      .then(() => fetch("/state" + query, { credentials: "same-origin" }))
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`/state: HTTP ${r.status}`))))
      .then((state) => {
        $("instance").textContent = state.instance || "—";
        const refsFirst = [...state.items].sort((a, b) => (a.stream === "reference" ? 0 : 1) - (b.stream === "reference" ? 0 : 1));
        for (const item of refsFirst) apply(item.stream, item.data, item.id);
        filters.set("last_event_id", state.last_event_id);
        open("/events?" + filters);
      })
      .catch((err) => {
        console.warn("cannot load the state, retrying", err);
        setConnection("connecting", "Loading…");
        setTimeout(connect, 2000); // e.g. 503 while the instance warms up
      });
  }

  function open(url) {
    if (source) source.close();
    source = new EventSource(url);
    source.onopen = () => setConnection("live", "Live");
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        setConnection("offline", "Offline");
        setTimeout(connect, 5000); // the server refused us (e.g. 429): try again later
      } else {
        setConnection("connecting", "Reconnecting…");
      }
    };
    for (const stream of [...STREAMS, "reference"]) {
      source.addEventListener(stream, (e) => handle(stream, e));
    }
    source.addEventListener("replay-gap", (e) => {
      const gap = JSON.parse(e.data);
      notice(gap.missed
        ? `Missed ${gap.missed} updates while disconnected: reloading the current state.`
        : "Some updates could not be replayed: reloading the current state.");
      connect(); // the present from /state, then the stream from there
    });
  }

  connect();
})();
