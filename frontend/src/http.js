/** Same-origin requests carrying the session cookie, with the CSRF header on writes. */

/** A request the server answered with an error status (``status``: the HTTP code). */
export class HttpError extends Error {
  /**
   * @param {string} message
   * @param {number} status
   */
  constructor(message, status) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
  }
}

/** The CSRF token: the cookie, or the page's ``{% csrf_token %}`` field. The one reader. */
export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  const field = /** @type {HTMLInputElement | null} */ (document.querySelector('input[name=csrfmiddlewaretoken]'));
  return field?.value || '';
}

export async function request(method, url, body, accept = 'application/json') {
  const headers = { Accept: accept };
  if (method !== 'GET' && method !== 'HEAD') {
    headers['X-CSRFToken'] = csrfToken();
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(url, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    throw new HttpError(`${method} ${url}: HTTP ${response.status}`, response.status);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export const getJson = (url, accept) => request('GET', url, undefined, accept);
