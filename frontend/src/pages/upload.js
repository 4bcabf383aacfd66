/**
 * Upload page: files, folders and zips go to POST /api/uploads/ in small batches, with
 * upload progress from XMLHttpRequest (fetch has none), one result row per file and the
 * results grouped by study, each with links to open it.
 */
import { el } from '../dom.js';
import { csrfToken } from '../http.js';

const form = document.getElementById("upload-form");
if (form) start(form);

function start(form) {
  const endpoint = form.dataset.endpoint;
  const studyUrl = form.dataset.studyUrl;
  const viewerUrl = form.dataset.viewerUrl;
  const dropzone = document.getElementById("dropzone");
  const fileInput = document.getElementById("file-input");
  const folderInput = document.getElementById("folder-input");
  const statusLine = document.getElementById("upload-status");
  const progress = document.getElementById("upload-progress");
  const bar = document.getElementById("upload-bar");
  const countsLine = document.getElementById("upload-counts");
  const tbody = document.querySelector("#upload-results tbody");
  const studyList = document.getElementById("upload-studies");
  /** Study UID -> its entry in the list of studies: counts per status and the links. */
  const studies = new Map();

  // Small files travel together; a zip or a big file travels alone.
  const BATCH_FILES = 8;
  const BATCH_BYTES = 8 * 1024 * 1024;
  const CONCURRENCY = 2;
  const STATUSES = ["stored", "duplicate", "conflict", "failed", "skipped"];

  let queue = [];
  let active = 0;
  let totalBytes = 0;
  let doneBytes = 0;
  let filesSent = 0;
  let filesTotal = 0;
  const inflight = new Map();
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));

  function isZip(file) {
    return /\.zip$/i.test(file.name) || file.type === "application/zip";
  }

  function makeBatches(entries) {
    const batches = [];
    let current = [];
    let bytes = 0;
    for (const entry of entries) {
      const alone = isZip(entry.file) || entry.file.size >= BATCH_BYTES;
      if (alone) {
        batches.push([entry]);
        continue;
      }
      if (current.length >= BATCH_FILES || bytes + entry.file.size > BATCH_BYTES) {
        batches.push(current);
        current = [];
        bytes = 0;
      }
      current.push(entry);
      bytes += entry.file.size;
    }
    if (current.length) batches.push(current);
    return batches;
  }

  function setProgress() {
    let loaded = doneBytes;
    for (const value of inflight.values()) loaded += value;
    const pct = totalBytes ? Math.min(100, Math.round((loaded / totalBytes) * 100)) : 0;
    bar.style.width = pct + "%";
    progress.setAttribute("aria-valuenow", String(pct));
    progress.classList.toggle("done", active === 0 && queue.length === 0 && filesTotal > 0);
  }

  function setCounts() {
    countsLine.replaceChildren(
      ...STATUSES.filter((s) => counts[s]).map((s) => el("span", { class: "count status-" + s }, counts[s] + " " + s)),
    );
  }

  function addRow(name, status, reason, studyUid) {
    counts[status] = (counts[status] || 0) + 1;
    const reasonCell = el("td", { class: "reason" }, reason || null);
    const inStudy = studyUid && (status === "stored" || status === "duplicate");
    if (inStudy) {
      reasonCell.append(
        el("a", { href: studyUrl.replace("STUDY_UID", encodeURIComponent(studyUid)) }, reason ? " Open study" : "Open study"),
      );
    }
    tbody.append(
      el(
        "tr",
        { class: "result-" + status, dataset: inStudy ? { studyUid } : {} },
        el("td", { class: "mono name", title: name }, name),
        el("td", {}, el("span", { class: "badge status-" + status }, status)),
        reasonCell,
      ),
    );
    if (inStudy) countInStudy(studyUid, status);
  }

  /** The results grouped by study: one entry per study with its counts and links to open it. */
  function countInStudy(studyUid, status) {
    let entry = studies.get(studyUid);
    if (!entry) {
      const countsNode = el("span", { class: "study-counts" });
      const node = el(
        "li",
        { class: "upload-study", dataset: { studyUid } },
        el("span", { class: "mono study-uid", title: studyUid }, studyUid),
        countsNode,
        el("a", { class: "open-viewer", href: viewerUrl.replace("STUDY_UID", encodeURIComponent(studyUid)) }, "Open in viewer"),
        el("a", { class: "open-study", href: studyUrl.replace("STUDY_UID", encodeURIComponent(studyUid)) }, "Study page"),
      );
      entry = { node, countsNode, counts: {} };
      studies.set(studyUid, entry);
      studyList.append(node);
      studyList.closest('section').hidden = false;
    }
    entry.counts[status] = (entry.counts[status] || 0) + 1;
    entry.countsNode.textContent = Object.entries(entry.counts)
      .map(([s, n]) => `${n} ${s}`)
      .join(", ");
  }

  function describeHttpError(xhr) {
    try {
      const body = JSON.parse(xhr.responseText);
      if (body.detail) return "HTTP " + xhr.status + ": " + body.detail;
    } catch (e) {
      /* not JSON */
    }
    if (xhr.status === 0) return "network error: the server could not be reached";
    return "HTTP " + xhr.status + " " + (xhr.statusText || "error");
  }

  function finishBatch(batch, batchBytes, id) {
    inflight.delete(id);
    doneBytes += batchBytes;
    filesSent += batch.length;
    active -= 1;
    setCounts();
    pump();
  }

  function send(batch) {
    const id = Symbol("batch");
    const batchBytes = batch.reduce((sum, e) => sum + e.file.size, 0);
    const data = new FormData();
    for (const entry of batch) {
      data.append("file", entry.file, entry.file.name);
      data.append("path", entry.path);
    }
    const xhr = new XMLHttpRequest();
    xhr.open("POST", endpoint);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) {
        inflight.set(id, Math.min(batchBytes, (event.loaded / event.total) * batchBytes));
        setProgress();
      }
    });
    const failAll = (reason) => {
      for (const entry of batch) addRow(entry.path, "failed", reason, "");
    };
    xhr.addEventListener("load", () => {
      let body = null;
      if (xhr.status === 200) {
        try {
          body = JSON.parse(xhr.responseText);
        } catch (e) {
          body = null;
        }
      }
      if (body && Array.isArray(body.results)) {
        for (const r of body.results) addRow(r.name, r.status, r.reason, r.study_instance_uid);
        for (const name of body.skipped || []) {
          addRow(name, "skipped", "not an instance (hidden file, DICOMDIR)", "");
        }
      } else {
        failAll(xhr.status === 200 ? "unexpected answer from the server" : describeHttpError(xhr));
      }
      finishBatch(batch, batchBytes, id);
    });
    for (const type of ["error", "abort", "timeout"]) {
      xhr.addEventListener(type, () => {
        failAll(type === "error" ? describeHttpError(xhr) : "upload " + type);
        finishBatch(batch, batchBytes, id);
      });
    }
    inflight.set(id, 0);
    active += 1;
    xhr.send(data);
  }

  function pump() {
    while (active < CONCURRENCY && queue.length) send(queue.shift());
    setProgress();
    if (active === 0 && queue.length === 0) {
      statusLine.textContent = "Done: " + filesSent + " file" + (filesSent === 1 ? "" : "s") + " sent.";
      form.dataset.state = "done";
    } else {
      statusLine.textContent = "Uploading: " + filesSent + " of " + filesTotal + " files sent…";
      form.dataset.state = "uploading";
    }
  }

  function enqueue(entries) {
    if (!entries.length) return;
    entries.sort((a, b) => a.path.localeCompare(b.path, undefined, { numeric: true }));
    if (active === 0 && queue.length === 0) {
      // A new round: the bar restarts, the result list keeps growing.
      totalBytes = 0;
      doneBytes = 0;
      filesSent = 0;
      filesTotal = 0;
    }
    for (const entry of entries) totalBytes += entry.file.size;
    filesTotal += entries.length;
    queue = queue.concat(makeBatches(entries));
    pump();
  }

  function fromFileList(list) {
    return Array.from(list).map((file) => ({ file, path: file.webkitRelativePath || file.name }));
  }

  // Dropped folders: walk FileSystemEntry trees (readEntries answers in chunks).
  function readAll(reader) {
    return new Promise((resolve, reject) => {
      const all = [];
      const next = () =>
        reader.readEntries((chunk) => {
          if (!chunk.length) return resolve(all);
          all.push(...chunk);
          next();
        }, reject);
      next();
    });
  }

  async function walk(entry, out) {
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      out.push({ file, path: entry.fullPath.replace(/^\//, "") });
    } else if (entry.isDirectory) {
      for (const child of await readAll(entry.createReader())) await walk(child, out);
    }
  }

  async function fromDrop(dataTransfer) {
    const entries = [];
    const items = Array.from(dataTransfer.items || []);
    const roots = items.map((item) => item.webkitGetAsEntry && item.webkitGetAsEntry()).filter(Boolean);
    if (!roots.length) return fromFileList(dataTransfer.files);
    for (const root of roots) await walk(root, entries);
    return entries;
  }

  for (const button of form.querySelectorAll("[data-pick]")) {
    button.addEventListener("click", () => document.getElementById(button.dataset.pick).click());
  }
  dropzone.addEventListener("click", () => fileInput.click());
  dropzone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      fileInput.click();
    }
  });
  for (const type of ["dragenter", "dragover"]) {
    dropzone.addEventListener(type, (event) => {
      event.preventDefault();
      dropzone.classList.add("over");
    });
  }
  dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
  dropzone.addEventListener("drop", async (event) => {
    event.preventDefault();
    dropzone.classList.remove("over");
    statusLine.textContent = "Reading dropped files…";
    try {
      enqueue(await fromDrop(event.dataTransfer));
    } catch (err) {
      statusLine.textContent = "Could not read the dropped items: " + err;
    }
  });
  // Dropping next to the zone must not make the browser open the file instead.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());

  for (const input of /** @type {HTMLInputElement[]} */ ([fileInput, folderInput])) {
    input.addEventListener("change", () => {
      enqueue(fromFileList(input.files));
      input.value = "";
    });
  }
}
