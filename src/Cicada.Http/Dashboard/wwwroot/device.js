// Cicada dashboard, one device: its registry entry, live state (SSE), availability and commands.
'use strict';

const $ = id => document.getElementById(id);
const identifier = new URLSearchParams(location.search).get('id') ?? '';
const base = `/api/v1/devices/${encodeURIComponent(identifier)}`;
let device = null;
let stateTag = null;

function row(key, value, className) {
  const tr = document.createElement('tr');
  const th = document.createElement('th');
  th.textContent = key;
  const td = document.createElement('td');
  td.textContent = typeof value === 'string' ? value : JSON.stringify(value);
  if (className) td.className = className;
  tr.append(th, td);
  return tr;
}

function showDevice(d) {
  device = d;
  $('device-title').textContent = `${d.name} (${d.identifier})`;
  $('device-status').textContent = d.online ? 'online' : 'offline';
  $('device-status').className = d.online ? 'online' : 'offline';
  const rows = [];
  for (const [key, value] of Object.entries(d)) {
    if (value !== null && value !== undefined) rows.push(row(key, value, key === 'online' ? (value ? 'online' : 'offline') : null));
  }
  $('info').replaceChildren(...rows);
}

async function loadDevice() {
  const response = await fetch(base, { headers: { Accept: 'application/json' } });
  const body = await response.json();
  if (!response.ok) {
    $('device-status').textContent = body.message ?? `error ${response.status}`;
    return false;
  }
  showDevice(body.data);
  return true;
}

// The state endpoint answers 304 to a matching If-None-Match: only changes are redrawn.
async function loadState() {
  const headers = { Accept: 'application/json' };
  if (stateTag) headers['If-None-Match'] = stateTag;
  const response = await fetch(`${base}/state`, { headers, cache: 'no-store' });
  if (response.status === 304 || !response.ok) return;
  stateTag = response.headers.get('ETag');
  const body = await response.json();
  const entries = Object.entries(body.data ?? {});
  $('state').replaceChildren(...(entries.length ? entries.map(([k, v]) => row(k, v, 'payload')) : [row('—', 'no state yet')]));
}

function logEvent(text) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  const list = $('events');
  list.prepend(li);
  while (list.children.length > 100) list.lastChild.remove();
}

function openStream() {
  const root = device.topic;
  // Where the state comes from, as the registry's /state reads it: a Homie device's property
  // values, each entity's state topic of a grouped Home Assistant device, else one topic or filter.
  const entityTopics = Object.values(device.entities ?? {}).map(e => e.state_topic).filter(Boolean);
  const stateFilters = device.source === 'homie' ? [`${root}/+/+`]
    : device.state_topic ? [device.state_topic]
    : entityTopics.length ? [...new Set(entityTopics)]
    : [`${root}/state/#`];
  const availability = device.availability_topic ?? `${root}/availability`;
  const query = [...stateFilters, availability].map(f => `filter=${encodeURIComponent(f)}`).join('&');
  const source = new EventSource(`/api/v1/stream?${query}`);
  source.onopen = () => { $('state-live').textContent = '(live)'; };
  source.onerror = () => { $('state-live').textContent = '(reconnecting…)'; };
  source.addEventListener('message', event => {
    const m = JSON.parse(event.data);
    logEvent(`${m.topic}  ${m.payload ?? ''}`);
    if (m.topic === availability) loadDevice();
    else loadState();
  });
  // Messages were lost while disconnected: re-read everything instead of trusting the feed.
  source.addEventListener('gap', () => { loadDevice(); loadState(); });
}

$('command').addEventListener('submit', async event => {
  event.preventDefault();
  const form = event.target;
  const name = encodeURIComponent(form.command.value);
  const wait = form.wait.checked ? `?wait=${Number(form.seconds.value) || 5}s` : '';
  $('command-status').textContent = form.wait.checked ? 'waiting for the reply…' : 'sending…';
  $('command-reply').textContent = '';
  const response = await fetch(`${base}/commands/${name}${wait}`, {
    method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: form.payload.value,
  });
  const text = await response.text();
  if (response.status === 200) {
    $('command-status').textContent = `reply (${response.headers.get('Content-Type') ?? ''})`;
    $('command-reply').textContent = text;
  } else if (response.status === 202) {
    const body = JSON.parse(text);
    $('command-status').textContent = `sent to ${body.data.command_topic} (not waiting for a reply)`;
  } else if (response.status === 504) {
    $('command-status').textContent = 'no reply in time (504)';
  } else {
    let detail = text;
    try { detail = JSON.parse(text).detail ?? text; } catch { /* not JSON */ }
    $('command-status').textContent = `failed (${response.status}): ${detail}`;
  }
});

(async () => {
  if (!identifier || !(await loadDevice())) return;
  await loadState();
  openStream();
  // last_seen changes without a message on the device's topics: refresh it now and then.
  setInterval(loadDevice, 5000);
})();
