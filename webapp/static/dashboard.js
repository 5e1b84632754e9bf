/* Tote Live dashboard: one EventSource, plain DOM updates, an SVG sparkline per pool.
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
  function product(id) {
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
    card.querySelector(".pool-id").textContent = shortId(id);
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
    const p = product(d.product_id);
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
    return `${shortId(d.product_id)} gross ${money(gross.amount, gross.currency)}`;
  }

  function onProductStatus(d, msg) {
    const p = product(d.product_id);
    const at = stamp(msg);
    if (p.statusAt > at) return `${shortId(d.product_id)} was ${d.status} (superseded)`;
    p.statusAt = at;
    p.status = d.status;
    p.card.querySelector(".pool-status").replaceChildren(pill(d.status));
    flash(p.card);
    return `${shortId(d.product_id)} is ${d.status}`;
  }

  function onSelectionStatus(d) {
    const p = product(d.product_id);
    p.selections.set(d.selection_id, d.status || "UNKNOWN");
    renderFoot(p);
    return `selection ${shortId(d.selection_id)} ${d.status} (${shortId(d.product_id)})`;
  }

  function onDividend(d) {
    const p = product(d.product_id);
    const box = p.card.querySelector(".dividends");
    box.replaceChildren();
    for (const div of d.dividends || []) {
      const row = el("div");
      const label = [div.name, div.type, div.status].filter(Boolean).join(" · ") || "dividend";
      const sel = (div.selection_ids || []).map(shortId).join(", ");
      row.append(el("span", "", sel ? `${label} (${sel})` : label), el("b", "", money(div.amount, div.currency)));
      box.append(row);
    }
    box.hidden = !box.children.length;
    flash(p.card);
    return `${shortId(d.product_id)} dividends: ${(d.dividends || []).length}`;
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
    card.querySelector(".race-title").textContent = info.course;
    card.querySelector(".race-sub").textContent = [info.when, info.sport, info.country].filter(Boolean).join(" · ");
    card.title = id;
    $("races").prepend(card);
    r = { id, card, info, competitors: new Map() };
    races.set(id, r);
    $("meter-races").textContent = races.size;
    return r;
  }

  function onEventStatus(d) {
    const r = race(d.event_id);
    r.card.querySelector(".race-status").replaceChildren(pill(d.status));
    return `${r.info.course} ${r.info.when.split(" ·")[0]} ${d.status}`;
  }

  function onEventResult(d) {
    const r = race(d.event_id);
    if (d.result_status) r.card.querySelector(".race-status").replaceChildren(pill(d.result_status));
    const list = r.card.querySelector(".results");
    list.replaceChildren();
    const rows = [...(d.competitor_results || [])].sort((a, b) => Number(a.finishing_position) - Number(b.finishing_position));
    for (const c of rows.slice(0, 6)) {
      const li = el("li");
      li.append(el("b", "", c.finishing_position || "?"), document.createTextNode(runnerName(c.competitor_id, d.event_id)));
      list.append(li);
    }
    return `${r.info.course} result ${d.result_status || ""}`.trim();
  }

  function onCompetitorStatus(d) {
    const r = race(d.event_id);
    r.competitors.set(d.competitor_id, d.status);
    const out = [...r.competitors.values()].filter((s) => statusClass(s) === "bad").length;
    r.card.querySelector(".race-sub").textContent =
      [r.info.when, r.info.sport, r.info.country, out ? `${out} non-runner${out > 1 ? "s" : ""}` : ""].filter(Boolean).join(" · ");
    return `${r.info.course}: ${runnerName(d.competitor_id, d.event_id)} ${d.status}`;
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

  function handle(stream, event) {
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch (_) {
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
    $("last-id").textContent = event.lastEventId || "—";
    feed(stream, text, msg.received_at);
  }

  // The first stream of a page asks for the whole replay buffer (id "<instance>-0"), so the
  // dashboard opens showing the current state instead of waiting for the next updates; later
  // reconnects resume from the last id the browser saw (EventSource sends it by itself).
  let openingReplay = true;

  // A token in the fragment (#token=...) is traded once for an HttpOnly cookie (POST /session)
  // and dropped from the address bar: EventSource then sends the cookie by itself, and the
  // token never appears in a URL the server (or Cloud Run's request log) sees.
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

  function connect() {
    login()
      .then(() => fetch("/status", { credentials: "same-origin" }))
      .then((r) => (r.ok ? r.json() : null))
      .catch(() => null)
      .then((status) => {
        const params = new URLSearchParams();
        if (status && status.instance) {
          $("instance").textContent = status.instance;
          params.set("last_event_id", `${status.instance}-0`);
        }
        open("/events" + (params.toString() ? `?${params}` : ""));
      });
  }

  function open(url) {
    const source = new EventSource(url);
    source.onopen = () => setConnection("live", "Live");
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        setConnection("offline", "Offline");
        setTimeout(connect, 5000); // the server refused us (e.g. 429): try again later
      } else {
        setConnection("connecting", "Reconnecting…");
      }
    };
    for (const stream of STREAMS) {
      source.addEventListener(stream, (e) => {
        openingReplay = false;
        handle(stream, e);
      });
    }
    source.addEventListener("replay-gap", (e) => {
      const gap = JSON.parse(e.data);
      if (openingReplay && gap.reason === "expired") return; // history older than the buffer
      notice(gap.missed
        ? `Missed ${gap.missed} updates while disconnected; figures refresh as new events arrive.`
        : "Reconnected to a different server instance: figures refresh as new events arrive.");
    });
  }

  connect();
})();
