// Cicada dashboard: plain JavaScript over the broker's own REST and SSE endpoints.
'use strict';

const $ = id => document.getElementById(id);

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text ?? '';
  if (className) td.className = className;
  return td;
}

// The device page: state, availability and commands of one device.
function linkCell(text, href) {
  const td = document.createElement('td');
  const a = document.createElement('a');
  a.textContent = text;
  a.href = href;
  td.appendChild(a);
  return td;
}

function fill(tbody, rows, render) {
  const fragment = document.createDocumentFragment();
  for (const row of rows) {
    const tr = document.createElement('tr');
    for (const td of render(row)) tr.appendChild(td);
    fragment.appendChild(tr);
  }
  tbody.replaceChildren(fragment);
}

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

const payloadText = m => m.payload ?? (m.payload_base64 ? `base64:${m.payload_base64}` : '');

async function refresh() {
  try {
    const [health, clients, devices, retained] = await Promise.all([
      getJson('/healthz'), getJson('/api/v1/clients'), getJson('/api/v1/devices?page_size=500'), getJson('/api/v1/retained')]);
    $('health').textContent = `v${health.version} · ${health.connections} connected · ${health.sessions} sessions`;
    const connected = clients.filter(c => c.connected);
    $('clients-count').textContent = `(${connected.length})`;
    fill($('clients'), connected, c => [cell(c.client_id), cell(c.protocol), cell(c.remote_address), cell(c.subscriptions), cell(c.pending)]);
    $('devices-count').textContent = `(${devices.meta.total})`;
    fill($('devices'), devices.data, d => [
      linkCell(d.identifier, `/dashboard/device.html?id=${encodeURIComponent(d.identifier)}`), cell(d.name), cell(d.device_type), cell(d.controller_gateway),
      cell(d.online ? 'online' : 'offline', d.online ? 'online' : 'offline'), cell(d.last_seen ?? '—')]);
    $('retained-count').textContent = `(${retained.length})`;
    fill($('retained'), retained, m => [cell(m.topic), cell(payloadText(m), 'payload'), cell(m.qos)]);
  } catch (e) {
    $('health').textContent = `unreachable: ${e.message}`;
  }
}

let source = null;
function openFeed() {
  if (source) source.close();
  const filter = $('feed-filter').value || '#';
  source = new EventSource(`/api/v1/stream?filter=${encodeURIComponent(filter)}`);
  source.onopen = () => { $('feed-state').textContent = `(${filter})`; };
  source.onerror = () => { $('feed-state').textContent = '(reconnecting…)'; };
  source.addEventListener('message', event => {
    const m = JSON.parse(event.data);
    const li = document.createElement('li');
    li.textContent = `${new Date().toLocaleTimeString()}  ${m.topic}  ${payloadText(m)}${m.retain ? '  (retained)' : ''}`;
    const feed = $('feed');
    feed.prepend(li);
    while (feed.children.length > 200) feed.lastChild.remove();
  });
}

$('feed-filter').addEventListener('change', openFeed);

$('publish').addEventListener('submit', async event => {
  event.preventDefault();
  const form = event.target;
  const topic = form.topic.value.split('/').map(encodeURIComponent).join('/');
  const url = `/api/v1/topics/${topic}?qos=${form.qos.value}&retain=${form.retain.checked}`;
  const response = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: form.payload.value });
  $('publish-status').textContent = response.ok ? 'published' : `failed: ${(await response.json()).detail ?? response.status}`;
  refresh();
});

openFeed();
refresh();
setInterval(refresh, 2000);
