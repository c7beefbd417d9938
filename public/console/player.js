// Streamgate player: lists video streams, plays LIVE and ON_DEMAND HLS sessions with hls.js, and draws
// the archive's fragments on a timeline. API calls are signed here with SigV4 (WebCrypto), using the
// access key the user typed (kept in sessionStorage only). No build step: plain browser JavaScript.

const encoder = new TextEncoder();
const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
const sha256 = async (data) => hex(await crypto.subtle.digest('SHA-256', encoder.encode(data)));
async function hmac(key, data) {
  const raw = typeof key === 'string' ? encoder.encode(key) : key;
  const cryptoKey = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  return crypto.subtle.sign('HMAC', cryptoKey, encoder.encode(data));
}

/** POSTs a REST-JSON call of the Kinesis Video Streams APIs, signed with SigV4 (service kinesisvideo). */
async function callKvs(path, body) {
  const creds = JSON.parse(sessionStorage.getItem('streamgate.credentials') || 'null');
  if (!creds) throw new Error('Enter an access key first.');
  const payload = JSON.stringify(body);
  const amzDate = new Date().toISOString().replace(/[:-]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${creds.region}/kinesisvideo/aws4_request`;
  const payloadHash = await sha256(payload);
  const canonical = [
    'POST',
    path,
    '',
    `host:${location.host}`,
    `x-amz-date:${amzDate}`,
    '',
    'host;x-amz-date',
    payloadHash,
  ].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, await sha256(canonical)].join('\n');
  let key = await hmac(`AWS4${creds.secretAccessKey}`, day);
  for (const part of [creds.region, 'kinesisvideo', 'aws4_request']) key = await hmac(key, part);
  const signature = hex(await hmac(key, toSign));
  const response = await fetch(path, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-amz-date': amzDate,
      'x-amz-content-sha256': payloadHash,
      authorization: `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=host;x-amz-date, Signature=${signature}`,
    },
    body: payload,
  });
  const text = await response.text();
  const result = text ? JSON.parse(text) : {};
  if (!response.ok)
    throw new Error(
      `${response.headers.get('x-amzn-errortype') || response.status}: ${result.message || result.Message || text}`,
    );
  return result;
}

const state = { hls: undefined, errors: [], events: [] };
window.streamgatePlayer = state;
const $ = (id) => document.getElementById(id);
const video = $('video');
function status(message, isError = false) {
  $('status').textContent = message;
  $('status').className = isError ? 'error' : '';
}

async function loadStreams() {
  const { StreamInfoList = [] } = await callKvs('/listStreams', { MaxResults: 1000 });
  const select = $('stream');
  const previous = select.value || new URLSearchParams(location.search).get('stream');
  select.replaceChildren(...StreamInfoList.map((s) => new Option(s.StreamName, s.StreamName)));
  if (previous && StreamInfoList.some((s) => s.StreamName === previous)) select.value = previous;
  await drawTimeline();
}

function play(url) {
  if (state.hls) state.hls.destroy();
  state.errors = [];
  const hls = new Hls({ lowLatencyMode: true, liveSyncDurationCount: 1, liveMaxLatencyDurationCount: 4 });
  state.hls = hls;
  hls.on(Hls.Events.ERROR, (_event, data) => {
    state.errors.push({ type: data.type, details: data.details, fatal: data.fatal });
    if (data.fatal) status(`hls.js: ${data.type} ${data.details}`, true);
  });
  hls.on(Hls.Events.FRAG_CHANGED, (_event, data) => {
    state.events.push({ sn: data.frag.sn, cc: data.frag.cc, programDateTime: data.frag.programDateTime });
  });
  hls.loadSource(url);
  hls.attachMedia(video);
  video.play().catch(() => undefined);
}

async function playLive() {
  const { HLSStreamingSessionURL } = await callKvs('/getHLSStreamingSessionURL', {
    StreamName: $('stream').value,
    PlaybackMode: 'LIVE',
    DisplayFragmentTimestamp: 'ALWAYS',
    DiscontinuityMode: 'ON_DISCONTINUITY',
  });
  status(`LIVE ${$('stream').value}`);
  play(HLSStreamingSessionURL);
}

async function playRange(fromMs, toMs) {
  const { HLSStreamingSessionURL } = await callKvs('/getHLSStreamingSessionURL', {
    StreamName: $('stream').value,
    PlaybackMode: 'ON_DEMAND',
    DisplayFragmentTimestamp: 'ALWAYS',
    DiscontinuityMode: 'ON_DISCONTINUITY',
    HLSFragmentSelector: {
      FragmentSelectorType: 'SERVER_TIMESTAMP',
      TimestampRange: { StartTimestamp: fromMs / 1000, EndTimestamp: toMs / 1000 },
    },
  });
  status(
    `ON_DEMAND ${$('stream').value} ${new Date(fromMs).toISOString()} – ${new Date(toMs).toISOString()}`,
  );
  play(HLSStreamingSessionURL);
}

const localInput = (ms) =>
  new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
function rangeOfInputs() {
  const to = $('to').value ? new Date($('to').value).getTime() : Date.now();
  const from = $('from').value ? new Date($('from').value).getTime() : to - 3600_000;
  return { from, to };
}

/** Fragments of the selected range as green boxes; what is left red are gaps. */
async function drawTimeline() {
  const stream = $('stream').value;
  const timeline = $('timeline');
  timeline.replaceChildren();
  if (!stream) return;
  const { from, to } = rangeOfInputs();
  const fragments = [];
  let NextToken;
  do {
    const page = await callKvs('/listFragments', {
      StreamName: stream,
      FragmentSelector: {
        FragmentSelectorType: 'SERVER_TIMESTAMP',
        TimestampRange: { StartTimestamp: from / 1000, EndTimestamp: to / 1000 },
      },
      ...(NextToken ? { NextToken } : {}),
    });
    fragments.push(...(page.Fragments || []));
    NextToken = page.NextToken;
  } while (NextToken && fragments.length < 20_000);
  const span = Math.max(1, to - from);
  for (const f of fragments) {
    const start = f.ServerTimestamp * 1000;
    const box = document.createElement('div');
    box.className = 'fragment';
    box.style.left = `${((start - from) / span) * 100}%`;
    box.style.width = `${Math.max(0.1, (f.FragmentLengthInMilliseconds / span) * 100)}%`;
    timeline.append(box);
  }
  $('timeline-start').textContent = new Date(from).toLocaleString();
  $('timeline-end').textContent = `${new Date(to).toLocaleString()} · ${fragments.length} fragments`;
  timeline.onclick = (event) => {
    const at = from + (event.offsetX / timeline.clientWidth) * span;
    playRange(at, to).catch((error) => status(error.message, true));
  };
}

const run = (work) => () => work().catch((error) => status(error.message, true));
$('credentials').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  sessionStorage.setItem('streamgate.credentials', JSON.stringify(Object.fromEntries(form.entries())));
  run(loadStreams)();
});
$('play-live').addEventListener('click', run(playLive));
$('play-range').addEventListener(
  'click',
  run(() => playRange(rangeOfInputs().from, rangeOfInputs().to)),
);
$('stream').addEventListener('change', run(drawTimeline));
$('to').value = localInput(Date.now() + 60_000); // the inputs have whole seconds: include the current one
$('from').value = localInput(Date.now() - 3600_000);
if (sessionStorage.getItem('streamgate.credentials')) run(loadStreams)();
