/**
 * The worklist page: REST for state, a WebSocket for live changes (rows, and the live
 * sessions this reader is invited to), keyboard first.
 */
import { $, $$, el } from '../dom.js';
import { csrfToken } from '../http.js';
import { leaveIfSignedOut } from '../sockets.js';

if (document.getElementById('worklist')) start();

function start() {
  const tbody = $("#worklist tbody");
  const form = $("#wl-filters");
  const me = JSON.parse($("#wl-me").textContent);
  const MULTI = ["modality", "status", "priority"];
  const FIELDS = ["q", "modality", "status", "priority", "date_from", "date_to", "mine", "unread", "worklist"];
  let params = new URLSearchParams(location.search);
  let data = JSON.parse($("#wl-initial").textContent);
  let selected = 0;
  let inflight = null;
  let live = new Map(); // study UID -> its active live reading session

  function since(iso) {
    if (!iso) return "";
    const mins = Math.max(0, (Date.now() - Date.parse(iso)) / 60000);
    if (mins < 60) return `${Math.round(mins)}m`;
    if (mins < 48 * 60) return `${Math.round(mins / 60)}h`;
    return `${Math.round(mins / 1440)}d`;
  }

  function fmtDate(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  function rowFor(r) {
    const tr = el("tr");
    tr.dataset.uid = r.study_instance_uid;
    tr.dataset.version = r.version;
    const cells = [
      el("td", { class: `pri pri-${r.priority}` }, r.priority_label),
      el("td", { class: "name" }, r.patient_name),
      el("td", { class: "mono" }, r.patient_id),
      el("td", {}, [r.patient_age, r.patient_sex].filter(Boolean).join(" ")),
      el("td", { class: "mono" }, r.accession_number),
      el("td", {}, r.modality),
      el("td", {}, r.body_part),
      Object.assign(el("td", { class: "desc" }, r.description), { title: r.description || "" }),
      el("td", { class: "when" }),
      el("td", { class: "num" }, r.images),
      el("td", { class: `st st-${r.reading_status}` }, r.reading_status_label),
      el("td", { class: "reader" }),
      el("td", { class: `ai ai-${r.ai_status}` }, r.ai_status === "none" ? "—" : r.ai_status),
      el("td", { class: `rep rep-${r.report_status}` }, r.report_status === "none" ? "—" : r.report_status),
    ];
    cells[7].title = r.description;
    if (r.critical) {
      const flag = el("span", { class: "rep-critical" }, "⚠ critical");
      flag.title = "Critical result not yet acknowledged (closed loop open)";
      cells[13].append(" ", flag);
      tr.classList.add("critical-open");
    }
    cells[8].append(fmtDate(r.study_datetime), el("span", { class: "age" }, since(r.study_datetime)));
    const session = live.get(r.study_instance_uid);
    if (session) {
      const badge = el("a", { class: "wl-live-badge" }, "● Live");
      badge.href = session.viewer_url;
      badge.title = `Live reading session hosted by ${session.host.display_name}: join`;
      badge.addEventListener("click", (e) => e.stopPropagation());
      cells[1].append(" ", badge);
    }
    if (r.claimed_by) {
      const mine = r.claimed_by.id === me.id;
      const c = el("span", { class: "claim" }, mine ? "▶ you" : "▶ " + r.claimed_by.name);
      c.title = "Claimed (being read)";
      cells[11].append(c);
      if (mine) {
        const release = el("button", { class: "link wl-release" }, "release");
        release.type = "button";
        release.title = "Give the study back to the worklist";
        release.addEventListener("click", (e) => { e.stopPropagation(); releaseStudy(r); });
        cells[11].append(" ", release);
      }
    } else if (r.assigned_to) {
      cells[11].textContent = r.assigned_to.name;
      cells[11].title = "Assigned";
    }
    tr.append(...cells);
    tr.addEventListener("click", () => select([...tbody.rows].indexOf(tr)));
    tr.addEventListener("dblclick", () => openStudy(r));
    tr._row = r;
    return tr;
  }

  function render() {
    const uid = tbody.rows[selected] && tbody.rows[selected].dataset.uid;
    tbody.replaceChildren(...data.results.map(rowFor));
    if (!data.results.length) {
      const tr = el("tr");
      const td = el("td", { class: "muted" }, "No studies match.");
      td.colSpan = 14;
      tr.append(td);
      tbody.append(tr);
    }
    const keep = data.results.findIndex((r) => r.study_instance_uid === uid);
    select(keep >= 0 ? keep : Math.min(selected, data.results.length - 1), false);
    $("#wl-count").textContent = `${data.count} ${data.count === 1 ? "study" : "studies"}`;
    $("#wl-page").textContent = `page ${data.page} / ${data.num_pages}`;
    $("#wl-prev").disabled = data.page <= 1;
    $("#wl-next").disabled = data.page >= data.num_pages;
    const sort = params.get("sort") || "priority";
    for (const th of $$("#worklist th[data-sort]")) {
      th.classList.toggle("sorted-asc", th.dataset.sort === sort);
      th.classList.toggle("sorted-desc", "-" + th.dataset.sort === sort);
    }
    for (const a of $$(".wl-lists a")) {
      a.classList.toggle("active", a.dataset.query === data.query);
    }
  }

  function select(i, scroll = true) {
    const rows = [...tbody.rows].filter((r) => r.dataset.uid);
    if (!rows.length) { selected = 0; return; }
    selected = Math.max(0, Math.min(i, rows.length - 1));
    rows.forEach((r, j) => r.classList.toggle("selected", j === selected));
    if (scroll) rows[selected].scrollIntoView({ block: "nearest" });
  }

  async function load({ push = false } = {}) {
    const query = params.toString();
    if (inflight) inflight.abort();
    inflight = new AbortController();
    try {
      const resp = await fetch(`/api/worklist/?${query}`, { signal: inflight.signal, headers: { Accept: "application/json" } });
      if (!resp.ok) return;
      data = await resp.json();
    } catch (e) {
      if (e.name === "AbortError") return;
      throw e;
    }
    const url = data.query ? `/?${data.query}` : "/";
    if (url !== location.pathname + location.search) history[push ? "pushState" : "replaceState"](null, "", url);
    render();
    loadSessions();
  }

  function fillForm() {
    for (const name of FIELDS) {
      const input = form.elements[name];
      if (!input) continue;
      const value = params.get(name) || "";
      if (input.type === "checkbox") input.checked = value === "1";
      else input.value = MULTI.includes(name) ? value.split(",")[0] || "" : value;
    }
  }

  let typing = null;
  function onFilterChange(e) {
    const input = e.target;
    if (!input.name) return;
    const value = input.type === "checkbox" ? (input.checked ? "1" : "") : input.value.trim();
    if (value) params.set(input.name, value); else params.delete(input.name);
    params.delete("page");
    clearTimeout(typing);
    typing = setTimeout(load, input.name === "q" ? 120 : 0);
  }
  form.addEventListener("input", onFilterChange);
  form.addEventListener("submit", (e) => e.preventDefault());
  $("#wl-clear").addEventListener("click", () => { params = new URLSearchParams(); fillForm(); load(); });

  for (const th of $$("#worklist th[data-sort]")) {
    th.addEventListener("click", () => {
      const key = th.dataset.sort;
      const cur = params.get("sort") || "priority";
      const next = cur === key ? "-" + key : key;
      if (next === "priority") params.delete("sort"); else params.set("sort", next);
      params.delete("page");
      load();
    });
  }
  $("#wl-prev").addEventListener("click", () => { params.set("page", String(Math.max(1, data.page - 1))); load(); });
  $("#wl-next").addEventListener("click", () => { params.set("page", String(data.page + 1)); load(); });
  window.addEventListener("popstate", () => { params = new URLSearchParams(location.search); fillForm(); load(); });

  // Opening claims the study; a study someone else holds opens read-only or joins their session.
  async function openStudy(r) {
    const resp = await fetch(`/api/worklist/studies/${encodeURIComponent(r.study_instance_uid)}/claim/`, {
      method: "POST", headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    });
    const body = await resp.json().catch(() => ({}));
    if (resp.ok) { location.href = r.viewer_url; return; }
    if (resp.status !== 409) { alert(body.detail || "Could not open the study."); return; }
    const holder = body.row && body.row.claimed_by ? body.row.claimed_by.name : "another reader";
    const dialog = $("#wl-held");
    $("#wl-held-text").textContent = `${r.patient_name} (${r.accession_number}) is being read by ${holder}.`;
    dialog.returnValue = "";
    dialog.onclose = () => {
      if (dialog.returnValue === "readonly") location.href = r.viewer_url + "?readonly=1";
      else if (dialog.returnValue === "join") location.href = r.viewer_url + "?join=1";
    };
    dialog.showModal();
    $("#wl-readonly").focus();
  }

  async function releaseStudy(r) {
    const resp = await fetch(`/api/worklist/studies/${encodeURIComponent(r.study_instance_uid)}/release/`, {
      method: "POST", headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    });
    if (resp.ok) load();
  }

  document.addEventListener("keydown", (/** @type {KeyboardEvent & {target: HTMLElement}} */ e) => {
    if ($("#wl-held").open) return;
    const inField = e.target.matches("input, select, textarea");
    if (e.key === "/" && !inField) { e.preventDefault(); $("#wl-q").focus(); $("#wl-q").select(); return; }
    if (e.key === "Escape" && inField) { e.target.blur(); return; }
    if (inField && e.target.id !== "wl-q") return;
    if (e.key === "ArrowDown") { e.preventDefault(); if (inField) e.target.blur(); select(selected + 1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); select(selected - 1); }
    else if (e.key === "Enter") {
      const tr = [...tbody.rows].filter((r) => r.dataset.uid)[selected];
      if (tr) { e.preventDefault(); openStudy(tr._row); }
    }
  });

  // Saved worklists.
  $("#wl-save").addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = e.target.elements.name.value.trim();
    if (!name) return;
    const resp = await fetch("/api/worklist/saved/", {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken(), "Content-Type": "application/json" },
      body: JSON.stringify({ name, query: data.query }),
    });
    if (!resp.ok) return;
    const saved = await resp.json();
    const list = $("#wl-saved");
    const old = list.querySelector(`li[data-id="${saved.id}"]`);
    const li = el("li");
    li.dataset.id = saved.id;
    const a = el("a", {}, saved.name);
    a.href = "/?" + saved.query;
    a.dataset.query = saved.query;
    li.append(a);
    if (old) old.replaceWith(li); else list.append(li);
    e.target.reset();
    render();
  });
  $("#wl-saved").addEventListener("click", async (e) => {
    const btn = e.target.closest(".wl-del");
    if (!btn) return;
    const resp = await fetch(`/api/worklist/saved/${btn.dataset.id}/`, { method: "DELETE", headers: { "X-CSRFToken": csrfToken() } });
    if (resp.ok) btn.closest("li").remove();
  });

  // Live: apply each event to its row at once, then re-run the query (filters and sort may move it).
  let reloadTimer = null;
  const scheduleReload = (ms = 250) => { clearTimeout(reloadTimer); reloadTimer = setTimeout(load, ms); };
  const refetchTimers = new Map();
  function applyEvent(ev) {
    if (ev.type === "worklist.session_invited") {
      showInvite(ev.payload);
      return;
    }
    const r = ev.payload;
    if (!r || !r.study_instance_uid) return;
    const tr = [...tbody.rows].find((x) => x.dataset.uid === r.study_instance_uid);
    if (tr && Number(tr.dataset.version) <= ev.seq) {
      const idx = data.results.findIndex((x) => x.study_instance_uid === r.study_instance_uid);
      if (idx >= 0) data.results[idx] = r;
      const fresh = rowFor(r);
      fresh.classList.add("flash");
      if (tr.classList.contains("selected")) fresh.classList.add("selected");
      tr.replaceWith(fresh);
    }
    if (ev.type === "worklist.study_updated") {
      // Updates are throttled on the server (one a second per study): fetch the final state after.
      clearTimeout(refetchTimers.get(r.study_instance_uid));
      refetchTimers.set(r.study_instance_uid, setTimeout(() => scheduleReload(0), 1200));
    }
    scheduleReload();
  }

  /** A reader was invited to a live session: said at once, with a link to join. */
  function showInvite(session) {
    if (!session || !session.viewer_url) return;
    let box = $("#wl-invites");
    if (!box) {
      box = el("div", { id: "wl-invites", class: "wl-invites", role: "alert" });
      document.querySelector("main, body").prepend(box);
    }
    const title = session.title || `${session.host?.display_name || "A colleague"}'s session`;
    const notice = el(
      "div",
      { class: "wl-invite", dataset: { sessionId: session.id } },
      `${session.invited_by?.display_name || "A colleague"} invited you to a live reading session: `,
      el("b", {}, title),
      " ",
      el("a", { class: "wl-invite-join", href: session.viewer_url }, "Join"),
      " ",
      el("button", { type: "button", class: "link", onclick: () => notice.remove() }, "Dismiss"),
    );
    box.querySelector(`[data-session-id="${session.id}"]`)?.remove();
    box.append(notice);
    loadSessions();
  }

  let socket = null;
  let backoff = 500;
  function connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${proto}://${location.host}/ws/worklist/`);
    socket.onopen = () => { backoff = 500; $("#wl-live").classList.add("on"); load(); };
    socket.onmessage = (m) => { try { applyEvent(JSON.parse(m.data)); } catch (e) { console.error(e); } };
    socket.onclose = (e) => {
      $("#wl-live").classList.remove("on");
      if (leaveIfSignedOut(e.code)) return;
      if (e.code === 4403) { location.reload(); return; }
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }

  // Live reading sessions: a badge on the rows they are about, a list in the sidebar.
  // Sessions send nothing on the worklist socket: refresh with each reload and every 15 s.
  const sessionList = $("#wl-sessions");
  let sessionsInflight = false;
  async function loadSessions() {
    if (!sessionList || sessionsInflight) return;
    sessionsInflight = true;
    try {
      const get = (q) => fetch(`/api/sessions/?${q}`, { headers: { Accept: "application/json" } })
        .then((resp) => (resp.ok ? resp.json() : null));
      const [all, mine] = await Promise.all([get("status=active"), get("status=active&mine=1")]);
      if (!all || !mine) { sessionList.closest("section").hidden = true; return; }
      const invited = new Set(mine.results.map((s) => s.id));
      const sessions = all.results;
      live = new Map();
      for (const s of sessions) if (!live.has(s.study_instance_uid)) live.set(s.study_instance_uid, s);
      sessionList.replaceChildren(...sessions
        .sort((a, b) => Number(invited.has(b.id)) - Number(invited.has(a.id)))
        .map((s) => {
          const li = el("li");
          li.dataset.sessionId = s.id;
          const row = data.results.find((r) => r.study_instance_uid === s.study_instance_uid);
          const label = s.title || `${s.host.display_name}'s session`;
          const a = el("a", {}, row ? `${label} · ${row.patient_name}` : label);
          a.href = s.viewer_url;
          const people = s.participants.filter((p) => p.state !== "offline").length;
          a.title = `Study ${s.study_instance_uid} · hosted by ${s.host.display_name} · ${people} in`;
          li.append(a);
          if (invited.has(s.id) && s.host.id !== me.id) li.append(el("span", { class: "wl-invited" }, "invited"));
          return li;
        }));
      if (!sessions.length) sessionList.append(el("li", { class: "muted" }, "None active"));
      render();
    } catch (e) {
      console.error(e);
    } finally {
      sessionsInflight = false;
    }
  }

  fillForm();
  render();
  loadSessions();
  setInterval(loadSessions, 15000);
  connect();
  setInterval(() => { if (socket && socket.readyState === 1) socket.send('{"type":"ping"}'); }, 30000);
}
