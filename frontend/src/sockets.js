/**
 * What every page's WebSocket does when the server ends the user's session
 * (reading/sockets.py): 4408, the session was idle past ``SESSION_IDLE_TIMEOUT``;
 * 4401, it was signed out (logout in another tab, deactivation). Reconnecting would
 * only be refused, so the page goes to the login page, saying why, and comes back
 * here after signing in (as static/js/idle.js does when its own countdown ends).
 */

export const CLOSE_SIGNED_OUT = 4401;
export const CLOSE_IDLE = 4408;
const LOGIN_URL = '/accounts/login/';

let leaving = false;

/**
 * Whether ``code`` ends the session; if so the page is already on its way to the login
 * page and the socket must not reconnect.
 * @param {number} code the CloseEvent's code
 * @returns {boolean}
 */
export function leaveIfSignedOut(code) {
  if (code !== CLOSE_IDLE && code !== CLOSE_SIGNED_OUT) return false;
  if (!leaving) {
    // Several sockets close at once: the first one navigates.
    leaving = true;
    const reason = code === CLOSE_IDLE ? 'idle=1' : 'signed_out=1';
    const next = encodeURIComponent(window.location.pathname + window.location.search);
    window.location.assign(`${LOGIN_URL}?next=${next}&${reason}`);
  }
  return true;
}
