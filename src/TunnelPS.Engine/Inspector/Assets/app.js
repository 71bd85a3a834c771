// TunnelPS Inspector. Vanilla JavaScript, no build step.
//
// Captured traffic is hostile input: every header, path and body reaches the page through textContent, attribute
// values set one by one, or a sandboxed frame. Nothing here assigns innerHTML, and the server's
// Content-Security-Policy allows no inline script, so markup in a request is shown as text and never runs.
'use strict';

const API = '/api/requests/http';
const MAX_ROWS = 2000;
const HEX_LIMIT = 64 * 1024;
const DIFF_LIMIT = 2000;

const state = {
  requests: new Map(),   // id -> summary, newest last in insertion order
  order: [],             // ids, newest first
  selected: null,        // id
  details: new Map(),    // id -> detail (a few, newest used kept)
  tab: 'request',
  bodyView: {},          // side -> 'pretty' | 'raw' | 'hex' | 'preview'
  filter: '',
  tunnels: [],
  loaded: false,         // the first list has arrived (until then the pane says "Loading…", not "No requests yet")
  loadError: null,       // why the list could not be loaded, while it could not
};

const $ = (id) => document.getElementById(id);

// ---- small helpers ----------------------------------------------------------------------------------------------

/** An element with text and attributes; children may be nodes or strings (always text). */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name === 'text') node.textContent = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function clear(node) { while (node.firstChild) node.firstChild.remove(); }

function formatTime(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return '';
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function formatDuration(ns) {
  const ms = ns / 1e6;
  if (ms < 1) return ms.toFixed(2) + ' ms';
  if (ms < 1000) return ms.toFixed(1) + ' ms';
  return (ms / 1000).toFixed(2) + ' s';
}

function formatSize(bytes) {
  if (!bytes) return '0 B';
  if (bytes < 1024) return bytes + ' B';
  if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + ' KB';
  return (bytes / 1024 / 1024).toFixed(1) + ' MB';
}

function statusClass(code) { return 's' + String(code || 0)[0]; }

function toast(message) {
  const node = $('toast');
  node.textContent = message;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { node.hidden = true; }, 2600);
}

async function api(path, options = {}) {
  const init = { method: options.method || 'GET', headers: { Accept: 'application/json' }, cache: 'no-store' };
  if (init.method !== 'GET') init.headers['X-TunnelPS-Request'] = '1';
  if (options.json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(options.json);
  }
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new Error((data && data.msg) || `${response.status} ${response.statusText}`);
  return data;
}

function base64ToBytes(text) {
  const binary = atob(text || '');
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// ---- the list ---------------------------------------------------------------------------------------------------

function add(summary, live) {
  if (state.requests.has(summary.id)) return false;
  state.requests.set(summary.id, summary);
  state.order.unshift(summary.id);
  if (state.order.length > MAX_ROWS) {
    for (const id of state.order.splice(MAX_ROWS)) state.requests.delete(id);
  }
  if (live) {
    const row = renderRow(summary);
    if (matches(summary)) {
      row.classList.add('new');
      $('rows').prepend(row);
      while ($('rows').children.length > MAX_ROWS) $('rows').lastElementChild.remove();
    }
    updateCount();
  }
  return true;
}

function renderRow(s) {
  const request = s.request;
  const status = s.response ? s.response.status_code : 0;
  // The cell cuts a long path: its title tells it whole, also where the mouse rests on the replay badge.
  const path = el('td', { class: 'path', title: s.is_replay ? `${request.uri}\n↻ replay of #${s.replay_of}` : request.uri });
  if (s.is_replay) path.append(el('span', { class: 'badge', text: '↻ replay' }));
  path.append(request.uri);
  const row = el('tr', { 'data-id': s.id, tabindex: -1, 'aria-selected': String(s.id === state.selected) },
    el('td', { class: 'time', title: s.start, text: formatTime(s.start) }),
    el('td', { class: 'method', text: request.method || '—' }),
    path,
    el('td', { class: `num status ${statusClass(status)}`, title: s.error || (s.response ? s.response.status : 'no response'), text: status || '—' }),
    el('td', { class: 'num', text: formatDuration(s.duration) }),
    tunnelCell(s),
    el('td', { class: 'num', text: s.response ? formatSize(s.response.body_size) : '' }));
  if (s.id === state.selected) row.tabIndex = 0;
  return row;
}

// One tunnel may take visitors on an http and an https URL under one name: the scheme tells its rows apart.
function schemeOf(url) {
  const match = /^(https?):\/\//i.exec(url || '');
  return match ? match[1].toLowerCase() : '';
}

function tunnelCell(s) {
  const scheme = schemeOf(s.public_url);
  return el('td', { class: 'tunnel-col', title: s.public_url ? `${s.tunnel_name} · ${s.public_url}` : s.tunnel_name },
    s.tunnel_name, scheme ? [' ', el('span', { class: `scheme ${scheme}`, text: scheme })] : null);
}

function renderList() {
  const rows = $('rows');
  clear(rows);
  const fragment = document.createDocumentFragment();
  for (const id of state.order) {
    const summary = state.requests.get(id);
    if (matches(summary)) fragment.append(renderRow(summary));
  }
  rows.append(fragment);
  if (!rows.querySelector('tr[tabindex="0"]') && rows.firstElementChild) rows.firstElementChild.tabIndex = 0;
  updateCount();
}

function updateCount() {
  const shown = $('rows').children.length;
  const total = state.order.length;
  if (!state.loaded && total === 0) $('count').textContent = '';
  else $('count').textContent = state.filter ? `${shown} of ${total}` : `${total} request${total === 1 ? '' : 's'}`;
  renderEmpty(shown, total);
}

function renderEmpty(shown, total) {
  const empty = $('empty');
  empty.hidden = shown > 0;
  if (shown > 0) return;
  clear(empty);
  if (total > 0) {
    empty.append(el('h2', { text: 'No request matches the filter' }), el('p', { text: 'Change or clear the filter (Esc) to see the others.' }));
    return;
  }
  if (!state.loaded) {
    empty.append(el('h2', { text: state.loadError ? 'Could not load the requests' : 'Loading…' }));
    if (state.loadError) empty.append(el('p', { text: `${state.loadError} The page tries again when its live connection comes back.` }));
    return;
  }
  empty.append(el('h2', { text: 'No requests yet' }));
  const http = state.tunnels.filter((t) => t.proto === 'http' || t.proto === 'https');
  if (http.length > 0) {
    empty.append(el('p', { text: 'Send one through a tunnel and it appears here at once:' }),
      el('pre', { text: http.map((t) => `curl ${t.public_url}/`).join('\n') }),
      el('p', { text: 'or open one of the URLs above in a browser.' }));
  } else {
    empty.append(el('p', { text: 'Open an HTTP tunnel in this PowerShell session, then send a request through it:' }),
      el('pre', { text: 'Start-Tunnel -Http 3000\ncurl (Get-Tunnel)[0].PublicUrl' }));
  }
}

// ---- filter -----------------------------------------------------------------------------------------------------

function parseFilter(text) {
  const terms = [];
  for (const token of text.trim().toLowerCase().split(/\s+/).filter(Boolean)) {
    const colon = token.indexOf(':');
    const key = colon > 0 ? token.slice(0, colon) : '';
    if (['status', 'method', 'tunnel', 'path'].includes(key)) terms.push({ key, value: token.slice(colon + 1) });
    else if (token === 'replay' || token === 'is:replay') terms.push({ key: 'replay' });
    else terms.push({ key: 'text', value: token });
  }
  return terms;
}

function matches(s) {
  if (!state.filter) return true;
  const status = String(s.response ? s.response.status_code : 0);
  for (const term of parseFilter(state.filter)) {
    switch (term.key) {
      case 'status': {
        const v = term.value.replace(/x/g, '');
        if (!status.startsWith(v)) return false;
        break;
      }
      case 'method': if (s.request.method.toLowerCase() !== term.value) return false; break;
      case 'tunnel': if (!`${s.tunnel_name} ${s.public_url || ''}`.toLowerCase().includes(term.value)) return false; break;
      case 'path': if (!s.request.uri.toLowerCase().includes(term.value)) return false; break;
      case 'replay': if (!s.is_replay) return false; break;
      default: {
        const haystack = `${s.request.method} ${s.request.uri} ${status} ${s.tunnel_name} ${s.url}`.toLowerCase();
        if (!haystack.includes(term.value)) return false;
      }
    }
  }
  return true;
}

// ---- selection and the detail pane ------------------------------------------------------------------------------

async function select(id, focusRow) {
  state.selected = id;
  for (const row of $('rows').children) {
    const on = Number(row.dataset.id) === id;
    row.setAttribute('aria-selected', String(on));
    row.tabIndex = on ? 0 : -1;
    if (on && focusRow) { row.focus(); row.scrollIntoView({ block: 'nearest' }); }
  }
  const pane = $('detail');
  let detail = state.details.get(id);
  if (!detail) {
    try {
      detail = await api(`${API}/${id}`);
    } catch (error) {
      clear(pane);
      pane.append(el('p', { class: 'placeholder', text: `Could not load request #${id}: ${error.message}` }));
      return;
    }
    state.details.set(id, detail);
    if (state.details.size > 40) state.details.delete(state.details.keys().next().value);
  }
  if (state.selected === id) renderDetail(detail);
}

function renderDetail(d) {
  const pane = $('detail');
  clear(pane);
  const status = d.response ? d.response.status_code : 0;
  const sub = el('div', { class: 'sub' }, d.url);
  if (d.is_replay) {
    sub.append(' · ', el('a', { href: '#', text: `replay of #${d.replay_of}`, onclick: (e) => { e.preventDefault(); select(d.replay_of, true); } }));
  }
  const actions = el('div', { class: 'actions' },
    el('button', { type: 'button', text: 'Replay', title: 'Send the request again (r)', onclick: () => replay(d), disabled: d.is_unparsed }),
    el('button', { type: 'button', text: 'Edit and replay…', title: 'Change it, then send it (e)', onclick: () => openEditor(d), disabled: d.is_unparsed }),
    el('button', { type: 'button', text: 'Copy as curl', title: '(c)', onclick: () => copy(asCurl(d), `curl command${copyNotes(d)}`) }),
    el('button', { type: 'button', text: 'Copy as Invoke-WebRequest', title: '(p)', onclick: () => copy(asInvokeWebRequest(d), `Invoke-WebRequest command${copyNotes(d)}`) }),
    el('button', { type: 'button', text: 'HAR', title: 'Download this request as a HAR file', onclick: () => download(`${API}/har?id=${d.id}`) }));
  pane.append(el('div', { class: 'detail-head' },
    el('h2', {}, el('span', { class: `status ${statusClass(status)}`, text: status || '—' }), ' ', d.request.method, ' ', d.request.uri),
    sub, actions));

  const ttfb = d.ttfb / 1e6;
  const total = d.duration / 1e6;
  pane.append(el('dl', { class: 'facts' },
    fact('Tunnel', `${d.tunnel_name}  (${d.public_url || 'no public URL'} → ${d.local_addr || '?'})`),
    fact('Client', d.remote_addr),
    fact('Started', new Date(d.start).toLocaleString()),
    fact('Timing', `${formatDuration(d.ttfb)} to the first response byte, ${formatDuration(d.duration)} in all`),
    fact('Bytes', `${formatSize(d.bytes_in)} in, ${formatSize(d.bytes_out)} out`),
    fact('Connection', `#${d.connection_id}${d.is_upgrade ? ' (switched protocols)' : ''}`)));
  if (total > 0) {
    const bar = el('div', { class: 'timing', title: 'waiting for the first byte, then receiving' }, el('span', { class: 'wait' }), el('span', { class: 'receive' }));
    bar.children[0].style.width = `${Math.min(100, (ttfb / total) * 100)}%`;
    bar.children[1].style.width = `${Math.max(0, 100 - (ttfb / total) * 100)}%`;
    pane.append(bar);
  }
  if (d.error) pane.append(el('p', { class: 'error-note', text: d.error }));

  const tabs = [['request', 'Request'], ['response', 'Response']];
  if (d.is_replay) tabs.push(['compare', 'Compare with original']);
  if (!tabs.some(([key]) => key === state.tab)) state.tab = 'response';
  const bar = el('div', { class: 'tabs', role: 'tablist' });
  for (const [key, label] of tabs) {
    bar.append(el('button', { type: 'button', role: 'tab', 'aria-selected': String(state.tab === key), text: label, onclick: () => { state.tab = key; renderDetail(d); } }));
  }
  pane.append(bar);
  const body = el('div', { class: 'pane', role: 'tabpanel' });
  pane.append(body);
  if (state.tab === 'request') renderSide(body, d, 'request');
  else if (state.tab === 'response') renderSide(body, d, 'response');
  else renderCompare(body, d);
}

function fact(name, value) { return [el('dt', { text: name }), el('dd', { text: value })]; }

function renderSide(container, d, side) {
  const part = d[side];
  if (!part) {
    container.append(el('p', { class: 'note', text: d.error ? `No response: ${d.error}` : 'No response was received.' }));
    return;
  }
  const startLine = side === 'request'
    ? `${part.method} ${part.uri} ${part.proto}`
    : `${part.proto} ${part.status}`;
  container.append(el('div', { class: 'startline', text: startLine }));
  const table = el('table', { class: 'headers' });
  for (const header of part.headers) table.append(el('tr', {}, el('th', { scope: 'row', text: header.name }), el('td', { text: header.value })));
  container.append(table);
  renderBody(container, d, side, part.body);
}

function renderBody(container, d, side, body) {
  if (!body || body.kind === 'empty') {
    container.append(el('p', { class: 'note', text: body && body.size > 0 ? `The body (${formatSize(body.size)}) was not captured.` : 'No body.' }));
    return;
  }
  const views = [];
  if (body.kind === 'json' || body.kind === 'form') views.push('pretty');
  if (body.kind === 'html') views.push('preview');
  if (body.text !== null) views.push('raw');
  if (body.kind === 'image') views.push('image');
  views.push('hex');
  let view = state.bodyView[side];
  if (!views.includes(view)) view = views[0];

  const info = [body.media_type || 'no content type', formatSize(body.size)];
  if (body.encoding) info.push(body.decoded ? `${body.encoding}, decoded` : `${body.encoding}, not decoded`);
  if (body.truncated) info.push(`only the first ${formatSize(body.captured)} captured`);
  const buttons = el('span', { class: 'views' });
  for (const name of views) {
    buttons.append(el('button', { type: 'button', 'aria-pressed': String(name === view), text: name, onclick: () => { state.bodyView[side] = name; renderDetail(d); } }));
  }
  const href = `${API}/${d.id}/${side}/body`;
  container.append(el('div', { class: 'body-bar' }, buttons, el('span', { text: info.join(' · ') }), el('a', { href, download: `${d.id}-${side}.bin`, text: 'download' })));

  if (view === 'pretty' && body.kind === 'json') container.append(el('pre', { class: 'code', text: prettyJson(body.text) }));
  else if (view === 'pretty' && body.kind === 'form') container.append(formTable(body.text));
  else if (view === 'preview') {
    // sandbox="" : no scripts, no forms, an opaque origin; the server adds a policy that loads nothing.
    container.append(el('iframe', { class: 'preview', sandbox: '', src: `${href}?preview=1`, title: 'HTML preview (scripts off)', referrerpolicy: 'no-referrer' }));
  } else if (view === 'image') container.append(el('img', { class: 'shown-image', src: href, alt: `${side} body image` }));
  else if (view === 'raw') container.append(el('pre', { class: 'code', text: body.text }));
  else container.append(el('pre', { class: 'code hex', text: hexDump(base64ToBytes(body.raw)) }));
}

function prettyJson(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}

function formTable(text) {
  const table = el('table', { class: 'form-table' });
  for (const [name, value] of new URLSearchParams(text)) table.append(el('tr', {}, el('td', { text: name }), el('td', { text: value })));
  return table;
}

function hexDump(bytes) {
  const lines = [];
  const end = Math.min(bytes.length, HEX_LIMIT);
  for (let offset = 0; offset < end; offset += 16) {
    const chunk = bytes.subarray(offset, Math.min(offset + 16, end));
    const hex = Array.from(chunk, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(chunk, (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  if (bytes.length > end) lines.push(`… ${formatSize(bytes.length - end)} more`);
  return lines.join('\n') || '(empty)';
}

// ---- compare a replay with its original ------------------------------------------------------------------------

async function renderCompare(container, replayDetail) {
  container.append(el('p', { class: 'note', text: 'Loading the original…' }));
  let original = state.details.get(replayDetail.replay_of);
  try {
    if (!original) {
      original = await api(`${API}/${replayDetail.replay_of}`);
      state.details.set(original.id, original);
    }
  } catch (error) {
    clear(container);
    container.append(el('p', { class: 'note', text: `The original #${replayDetail.replay_of} is no longer held (${error.message}).` }));
    return;
  }
  clear(container);
  container.append(el('p', { class: 'note', text: `Response of #${original.id} (original, −) against #${replayDetail.id} (replay, +).` }));
  const before = responseLines(original);
  const after = responseLines(replayDetail);
  const diff = el('div', { class: 'diff', role: 'list' });
  const ops = diffLines(before.slice(0, DIFF_LIMIT), after.slice(0, DIFF_LIMIT));
  for (const [kind, line] of ops) diff.append(el('div', { class: kind, role: 'listitem', text: line }));
  if (before.length > DIFF_LIMIT || after.length > DIFF_LIMIT) diff.append(el('div', { class: 'same', text: `… only the first ${DIFF_LIMIT} lines compared` }));
  if (!ops.some(([kind]) => kind !== 'same')) container.append(el('p', { class: 'note', text: 'The responses are the same.' }));
  container.append(diff);
}

function responseLines(d) {
  const r = d.response;
  if (!r) return ['(no response)'];
  const lines = [`${r.proto} ${r.status}`];
  for (const h of r.headers) lines.push(`${h.name}: ${h.value}`);
  lines.push('');
  const b = r.body;
  if (b && b.text !== null) lines.push(...(b.kind === 'json' ? prettyJson(b.text) : b.text).split(/\r?\n/));
  else if (b && b.kind !== 'empty') lines.push(`(${b.kind} body, ${formatSize(b.size)})`);
  return lines;
}

/** A line diff by longest common subsequence: [['same'|'del'|'add', line], …]. */
function diffLines(a, b) {
  const n = a.length, m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const ops = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { ops.push(['same', a[i]]); i++; j++; }
    else if (lcs[i + 1][j] >= lcs[i][j + 1]) ops.push(['del', a[i++]]);
    else ops.push(['add', b[j++]]);
  }
  while (i < n) ops.push(['del', a[i++]]);
  while (j < m) ops.push(['add', b[j++]]);
  return ops;
}

// ---- replay -----------------------------------------------------------------------------------------------------

async function replay(d, changes) {
  try {
    const result = await api(API, { method: 'POST', json: Object.assign({ id: d.id }, changes || {}) });
    state.details.set(result.id, result);
    add(result, true);
    state.tab = 'compare';
    await select(result.id, true);
    toast(`Replayed #${d.id} as #${result.id}: ${result.response ? result.response.status : 'no response'}`);
    return null;
  } catch (error) {
    toast(`Replay failed: ${error.message}`);
    return error.message;
  }
}

const SKIPPED = ['host', 'content-length', 'connection', 'transfer-encoding', 'keep-alive'];

function openEditor(d) {
  const dialog = $('editor');
  $('edit-method').value = d.request.method;
  $('edit-path').value = d.request.uri;
  $('edit-headers').value = d.request.headers.filter((h) => !SKIPPED.includes(h.name.toLowerCase())).map((h) => `${h.name}: ${h.value}`).join('\n');
  const body = d.request.body;
  const textual = !body || body.text !== null;
  $('edit-body').value = textual && body ? body.text || '' : '';
  $('edit-body').disabled = !textual;
  $('edit-body-note').textContent = textual ? '' : `(binary, ${formatSize(body.size)}: sent as captured)`;
  $('edit-target').value = '';
  $('edit-error').textContent = '';
  dialog.dataset.id = d.id;
  dialog.showModal();
  $('edit-path').focus();
}

async function sendEdited(event) {
  event.preventDefault();
  const d = state.details.get(Number($('editor').dataset.id));
  if (!d) return;
  const changes = {};
  const method = $('edit-method').value.trim();
  const path = $('edit-path').value.trim();
  if (method && method !== d.request.method) changes.method = method;
  if (path && path !== d.request.uri) changes.path = path;
  const set = {};
  const names = new Set();
  for (const line of $('edit-headers').value.split('\n')) {
    if (!line.trim()) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) { $('edit-error').textContent = `"${line}" is not a "Name: value" line.`; return; }
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    const key = name.toLowerCase();
    set[name] = names.has(key) ? `${set[name]}, ${value}` : value;
    names.add(key);
  }
  const originals = d.request.headers.filter((h) => !SKIPPED.includes(h.name.toLowerCase()));
  const remove = [...new Set(originals.map((h) => h.name).filter((name) => !names.has(name.toLowerCase())))];
  const changed = Object.entries(set).filter(([name, value]) => originals.filter((h) => h.name.toLowerCase() === name.toLowerCase()).map((h) => h.value).join(', ') !== value);
  if (changed.length) changes.set_headers = Object.fromEntries(changed);
  if (remove.length) changes.remove_headers = remove;
  const body = d.request.body;
  if (!$('edit-body').disabled && $('edit-body').value !== ((body && body.text) || '')) changes.body = $('edit-body').value;
  const target = $('edit-target').value.trim();
  if (target) changes.target = target;
  const error = await replay(d, changes);
  if (error) $('edit-error').textContent = error;
  else $('editor').close();
}

// ---- copy and download ------------------------------------------------------------------------------------------

function shellQuote(text) { return `'${String(text).replace(/'/g, `'\\''`)}'`; }

// PowerShell also ends a single-quoted string at the typographic quotes: double them all.
function psQuote(text) { return `'${String(text).replace(/['\u2018\u2019\u201A\u201B]/g, (q) => q + q)}'`; }

// A header the commands may carry: a token for a name (so never "@file" to curl's -H), no line break or NUL in the value.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function copyHeaders(d) {
  return d.request.headers.filter((h) => !SKIPPED.includes(h.name.toLowerCase()) && TOKEN.test(h.name) && !/[\r\n\0]/.test(h.value));
}

function skippedHeaders(d) {
  return d.request.headers.filter((h) => !SKIPPED.includes(h.name.toLowerCase())).length - copyHeaders(d).length;
}

// The copied commands go to the tunnel's own public origin, which the inspector gives (copy_origin), never to a host
// taken from the captured Url: a visitor chose that (Host: name.localhost:80@their.host, or an absolute target), and so
// does whoever wrote an imported HAR.
function copyOrigin(d) {
  const origin = d.copy_origin || '';
  return /^https?:\/\/[A-Za-z0-9._~\-]+(:\d+)?$|^https?:\/\/\[[0-9A-Fa-f:.]+\](:\d+)?$/.test(origin) ? origin : 'http://localhost';
}

// The captured target as a path on that origin: an absolute target keeps only its path and query, any other form is
// made a path; characters a URL cannot carry as they are are percent-encoded.
function copyUrl(d) {
  let target = d.request.uri || '/';
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(target);
  if (absolute) target = target.slice(absolute[0].length);
  if (!target.startsWith('/')) target = `/${target}`;
  const encode = (c) => { try { return encodeURIComponent(c); } catch { return '%EF%BF%BD'; } };   // a lone surrogate
  const encoded = Array.from(target, (c) => (/[\x00-\x20\x7f"#<>\\^`{|}]|[^\x00-\x7f]/.test(c) ? encode(c) : c)).join('');
  return copyOrigin(d) + encoded;
}

function bodyBytes(body) {
  const binary = atob(body.raw || '');
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// The body's text when it is exactly the captured bytes (UTF-8, not decompressed, no NUL a shell argument cannot hold),
// else null: such a body travels as base64.
function bodyText(body) {
  if (body.text === null || body.decoded || body.text.includes('\0')) return null;
  const encoded = new TextEncoder().encode(body.text);
  const raw = bodyBytes(body);
  if (encoded.length !== raw.length) return null;
  for (let i = 0; i < raw.length; i++) if (encoded[i] !== raw[i]) return null;
  return body.text;
}

// What the commands leave out or cannot reproduce, said when they are copied.
function copyNotes(d) {
  const notes = [];
  const skipped = skippedHeaders(d);
  if (skipped) notes.push(`${skipped} header${skipped === 1 ? '' : 's'} that HTTP does not allow left out`);
  const body = d.request.body;
  if (body && body.truncated) notes.push(`only the first ${formatSize(body.captured)} of the body was captured`);
  return notes.length ? ` (${notes.join('; ')})` : '';
}

// curl never reads a local file from the command: the body is --data-raw text (no @file), or base64 on stdin; URL
// globbing is off, so brackets and braces in the path are sent as they are.
function asCurl(d) {
  const parts = ['curl', '--globoff'];
  const method = TOKEN.test(d.request.method) ? d.request.method : 'GET';
  const body = d.request.body;
  if (method !== 'GET' || (body && body.kind !== 'empty')) parts.push('-X', shellQuote(method));
  parts.push(shellQuote(copyUrl(d)));
  for (const h of copyHeaders(d)) parts.push('-H', shellQuote(h.value === '' ? `${h.name};` : `${h.name}: ${h.value}`));
  let stdin = null;
  if (body && body.kind !== 'empty') {
    const text = bodyText(body);
    if (text !== null) parts.push('--data-raw', shellQuote(text));
    else {
      stdin = body.raw;
      parts.push('--data-binary', '@-');
    }
  }
  if (copyHeaders(d).some((h) => h.name.toLowerCase() === 'accept-encoding')) parts.push('--compressed');
  const command = parts.join(' \\\n  ');
  return stdin === null ? command : `printf '%s' ${shellQuote(stdin)} | base64 -d | ${command}`;
}

function asInvokeWebRequest(d) {
  const method = TOKEN.test(d.request.method) ? d.request.method : 'GET';
  const lines = [`Invoke-WebRequest -Uri ${psQuote(copyUrl(d))} -Method ${psQuote(method)}`];
  const headers = new Map();
  let contentType = null;
  for (const h of copyHeaders(d)) {
    if (h.name.toLowerCase() === 'content-type') { contentType = h.value; continue; }
    headers.set(h.name, headers.has(h.name) ? `${headers.get(h.name)}, ${h.value}` : h.value);
  }
  if (headers.size) lines.push(`-Headers @{ ${[...headers].map(([n, v]) => `${psQuote(n)} = ${psQuote(v)}`).join('; ')} } -SkipHeaderValidation`);
  if (contentType) lines.push(`-ContentType ${psQuote(contentType)}`);
  const body = d.request.body;
  if (body && body.kind !== 'empty') {
    const text = bodyText(body);
    lines.push(text !== null ? `-Body ${psQuote(text)}` : `-Body ([Convert]::FromBase64String(${psQuote(body.raw)}))`);
  }
  return lines.join(' `\n  ');
}

async function copy(text, what) {
  try {
    await navigator.clipboard.writeText(text);
    toast(`Copied the ${what}.`);
  } catch {
    // No clipboard (permission or an insecure context): show it for copying by hand.
    window.prompt(`Copy the ${what}:`, text);
  }
}

function download(href) {
  const link = el('a', { href, download: '' });
  document.body.append(link);
  link.click();
  link.remove();
}

// ---- tunnels ----------------------------------------------------------------------------------------------------

function renderTunnels(tunnels) {
  state.tunnels = tunnels;
  const strip = $('tunnels');
  clear(strip);
  for (const t of tunnels) {
    const url = /^(https?|tcp):\/\//i.test(t.public_url) ? t.public_url : '';
    const link = /^https?:\/\//i.test(url)
      ? el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', text: url })
      : el('span', { class: 'mono', text: url || t.public_url });
    strip.append(el('div', { class: 'tunnel', title: t.error || '' },
      el('span', { class: 'name', text: t.name }), link, el('span', { class: 'arrow', text: '→' }),
      el('span', { class: 'local', text: t.config.addr }), el('span', { class: `state ${t.status}`, text: t.status })));
  }
  updateCount();
}

// ---- live updates -----------------------------------------------------------------------------------------------

async function reload() {
  const [list, tunnels] = await Promise.all([api(`${API}?limit=${MAX_ROWS}`), api('/api/tunnels')]);
  // Exchanges the event stream delivered while the list was on its way are newer than it: keep them.
  const streamed = state.order.map((id) => state.requests.get(id)).filter(Boolean).reverse();
  state.requests.clear();
  state.order = [];
  for (const summary of list.requests.slice().reverse()) add(summary, false);
  for (const summary of streamed) add(summary, false);
  state.order.sort((a, b) => b - a);
  state.loaded = true;
  state.loadError = null;
  renderTunnels(tunnels.tunnels);
  renderList();
}

function connect() {
  const live = $('live');
  const source = new EventSource('/api/events');
  source.addEventListener('ready', () => {
    live.textContent = 'live';
    live.className = 'live on';
    reload().catch((error) => {
      state.loadError = error.message;
      updateCount();
      toast(`Could not load the requests: ${error.message}`);
    });
  });
  source.addEventListener('request', (event) => add(JSON.parse(event.data), true));
  source.addEventListener('tunnels', (event) => renderTunnels(JSON.parse(event.data).tunnels));
  source.addEventListener('cleared', () => {
    state.requests.clear();
    state.order = [];
    state.details.clear();
    renderList();
  });
  source.onerror = () => {
    live.textContent = 'reconnecting…';
    live.className = 'live off';
  };
}

// ---- the splitter between the list and the detail ---------------------------------------------------------------

// The list's share of the width in percent, kept in localStorage; a separator for assistive technology (its value is
// that share), moved by dragging, by the arrow keys (Shift for bigger steps), Home and End; a double-click resets it.
const SPLIT_KEY = 'tunnelps.inspector.listWidth';
const SPLIT_DEFAULT = 55, SPLIT_MIN = 20, SPLIT_MAX = 80;

function setSplit(percent, remember) {
  const value = Math.max(SPLIT_MIN, Math.min(SPLIT_MAX, Number.isFinite(percent) ? percent : SPLIT_DEFAULT));
  document.querySelector('.split').style.setProperty('--list', `${value}%`);
  $('splitter').setAttribute('aria-valuenow', String(Math.round(value)));
  if (!remember) return value;
  try {
    localStorage.setItem(SPLIT_KEY, String(value));
  } catch {
    // Storage is off (a private window, a policy): the width holds for this page only.
  }
  return value;
}

function initSplitter() {
  const splitter = $('splitter');
  let stored = null;
  try {
    stored = localStorage.getItem(SPLIT_KEY);
  } catch {
    // Storage is off: start from the default width.
  }
  let current = setSplit(stored === null ? SPLIT_DEFAULT : Number(stored), false);
  const fromPointer = (event) => {
    const box = document.querySelector('.split').getBoundingClientRect();
    return ((event.clientX - box.left) / box.width) * 100;
  };
  splitter.addEventListener('pointerdown', (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    splitter.setPointerCapture(event.pointerId);
    splitter.classList.add('dragging');
    document.body.classList.add('resizing');
  });
  splitter.addEventListener('pointermove', (event) => {
    if (splitter.hasPointerCapture(event.pointerId)) current = setSplit(fromPointer(event), false);
  });
  const end = (event) => {
    if (!splitter.hasPointerCapture(event.pointerId)) return;
    splitter.releasePointerCapture(event.pointerId);
    splitter.classList.remove('dragging');
    document.body.classList.remove('resizing');
    current = setSplit(current, true);
  };
  splitter.addEventListener('pointerup', end);
  splitter.addEventListener('pointercancel', end);
  splitter.addEventListener('dblclick', () => { current = setSplit(SPLIT_DEFAULT, true); });
  splitter.addEventListener('keydown', (event) => {
    const step = event.shiftKey ? 10 : 2;
    const next = { ArrowLeft: Math.round(current) - step, ArrowRight: Math.round(current) + step, Home: SPLIT_MIN, End: SPLIT_MAX }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    current = setSplit(next, true);
  });
}

// ---- keyboard and wiring ----------------------------------------------------------------------------------------

function move(step) {
  const rows = [...$('rows').children];
  if (!rows.length) return;
  let index = rows.findIndex((row) => Number(row.dataset.id) === state.selected);
  index = step === Infinity ? rows.length - 1 : step === -Infinity ? 0 : Math.max(0, Math.min(rows.length - 1, index + step));
  select(Number(rows[index].dataset.id), true);
}

function onKey(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement;
  if (typing) {
    if (event.key === 'Escape' && target === $('filter')) {
      target.value = '';
      state.filter = '';
      renderList();
      target.blur();
    }
    if (event.key === 'ArrowDown' && target === $('filter')) { event.preventDefault(); move(state.selected === null ? -Infinity : 1); }
    return;
  }
  if (document.querySelector('dialog[open]')) return;
  const d = state.details.get(state.selected);
  const actions = {
    '/': () => $('filter').focus(),
    '?': () => $('keys').showModal(),
    j: () => move(1), ArrowDown: () => move(1),
    k: () => move(-1), ArrowUp: () => move(-1),
    Home: () => move(-Infinity), End: () => move(Infinity),
    r: () => d && !d.is_unparsed && replay(d),
    e: () => d && !d.is_unparsed && openEditor(d),
    c: () => d && copy(asCurl(d), `curl command${copyNotes(d)}`),
    p: () => d && copy(asInvokeWebRequest(d), `Invoke-WebRequest command${copyNotes(d)}`),
    1: () => d && (state.tab = 'request', renderDetail(d)),
    2: () => d && (state.tab = 'response', renderDetail(d)),
    3: () => d && d.is_replay && (state.tab = 'compare', renderDetail(d)),
  };
  const action = actions[event.key];
  if (action) { event.preventDefault(); action(); }
}

function init() {
  $('rows').addEventListener('click', (event) => {
    const row = event.target.closest('tr');
    if (row) select(Number(row.dataset.id), true);
  });
  let pending;
  $('filter').addEventListener('input', (event) => {
    clearTimeout(pending);
    pending = setTimeout(() => { state.filter = event.target.value; renderList(); }, 80);
  });
  $('clear').addEventListener('click', async () => {
    if (!window.confirm('Clear every captured request? Running tunnels keep capturing.')) return;
    try { await api(API, { method: 'DELETE' }); } catch (error) { toast(`Could not clear: ${error.message}`); }
  });
  $('har').addEventListener('click', () => {
    const ids = [...$('rows').children].map((row) => row.dataset.id);
    download(state.filter && ids.length ? `${API}/har?id=${ids.slice(0, 1500).join(',')}` : `${API}/har`);
  });
  $('help').addEventListener('click', () => $('keys').showModal());
  $('editor-form').addEventListener('submit', sendEdited);
  $('edit-cancel').addEventListener('click', () => $('editor').close());
  document.addEventListener('keydown', onKey);
  initSplitter();
  updateCount();
  connect();
}

init();
