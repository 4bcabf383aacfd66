// Automatic logoff (HIPAA 164.312(a)(2)(iii)): counts down the server's idle timeout from
// the user's last input, warns a minute before, then logs out (which closes every socket of
// the user on the server) and goes to the login page. Input is reported to the server at
// most once a minute so the server-side clock (IdleTimeout middleware) agrees.
(() => {
  const root = document.documentElement;
  const timeout = Number(document.body.dataset.idleTimeout || 0) * 1000;
  if (!timeout) return;
  const WARN_MS = Math.min(60_000, timeout / 2);
  const REPORT_MS = 60_000;
  const csrf = () => (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";
  let last = Date.now();
  let reported = Date.now();
  let banner = null;

  function report() {
    reported = Date.now();
    fetch("/accounts/activity/", {
      method: "POST",
      headers: { "X-CSRFToken": csrf() },
      credentials: "same-origin",
      redirect: "manual",
    }).then((r) => {
      if (r.type === "opaqueredirect" || r.status === 401 || r.status === 403) signOut();
    }).catch(() => {});
  }

  function onInput() {
    last = Date.now();
    if (banner) { banner.remove(); banner = null; }
    if (Date.now() - reported > REPORT_MS) report();
  }

  function signOut() {
    const next = encodeURIComponent(location.pathname + location.search);
    const form = new FormData();
    form.append("csrfmiddlewaretoken", csrf());
    fetch("/accounts/logout/", { method: "POST", body: form, credentials: "same-origin" })
      .finally(() => { location.href = `/accounts/login/?next=${next}&idle=1`; });
  }

  function tick() {
    const left = last + timeout - Date.now();
    if (left <= 0) { signOut(); return; }
    if (left <= WARN_MS) {
      if (!banner) {
        banner = document.createElement("div");
        banner.className = "idle-warning";
        banner.setAttribute("role", "alert");
        document.body.append(banner);
      }
      banner.textContent = `Signing out in ${Math.ceil(left / 1000)} s for inactivity. Move the mouse or press a key to stay.`;
    }
  }

  for (const type of ["pointerdown", "keydown", "wheel", "pointermove", "touchstart"]) {
    window.addEventListener(type, onInput, { passive: true, capture: true });
  }
  root.dataset.idleArmed = "1";
  setInterval(tick, 1000);
})();
