/** The reports REST API (docs/reports.md), one function per call. */
import { csrfToken } from '../http.js';

const enc = encodeURIComponent;

/** A refusal of the API: ``code`` (e.g. ``unfilled_fields``) and ``detail`` for people. */
export class ReportApiError extends Error {
  constructor(status, code, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

async function request(method, url, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRFToken'] = csrfToken();
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(url, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw new ReportApiError(response.status, data?.code || '', data?.detail || '');
  return data;
}

/** The study's report, or null when none was started yet. */
export async function studyReport(studyUid) {
  try {
    return await request('GET', `/api/studies/${enc(studyUid)}/report/`);
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
}

export const startReport = (studyUid, template) =>
  request('POST', `/api/studies/${enc(studyUid)}/report/`, template ? { template } : {});
export const getReport = (id) => request('GET', `/api/reports/${id}/`);
export const sign = (id, level, extra = {}) => request('POST', `/api/reports/${id}/sign/`, { level, ...extra });
export const saveVersion = (id, reason = 'save') => request('POST', `/api/reports/${id}/versions/`, { reason });
export const versions = (id) => request('GET', `/api/reports/${id}/versions/`);
export function diff(id, from, to) {
  const params = new URLSearchParams();
  if (from !== undefined && from !== null && from !== '') params.set('from', from);
  if (to !== undefined && to !== null && to !== '') params.set('to', to);
  const query = params.toString();
  return request('GET', `/api/reports/${id}/diff/${query ? `?${query}` : ''}`);
}
export const addAddendum = (id) => request('POST', `/api/reports/${id}/addenda/`);
export const flagCritical = (id, finding, severity) =>
  request('POST', `/api/reports/${id}/critical/`, { finding, severity });
export const recordCommunication = (id, body) =>
  request('POST', `/api/reports/${id}/critical/communications/`, body);
export const requestImpression = (id) => request('POST', `/api/reports/${id}/impression/`);
export const decideImpression = (id, suggestionId, decision, text) =>
  request('POST', `/api/reports/${id}/impression/${suggestionId}/`, { decision, text });
export const macros = () => request('GET', '/api/macros/');
