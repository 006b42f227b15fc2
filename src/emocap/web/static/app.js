// emocap caption page: camera or shared screen -> JPEG frames over a WebSocket
// -> captions drawn on the video and listed as large text.
"use strict";

const MAX_FRAME_WIDTH = 640;   // the detector works at this scale; bigger frames only cost time
const JPEG_QUALITY = 0.8;
const MIN_FRAME_INTERVAL_MS = 33;  // at most ~30 frames/s even when answers come back faster
const HISTORY_LIMIT = 60;
const LATENCY_LIMIT = 1000;  // latencies kept for debugging and benchmarks; bounded so long sessions do not grow
const LINE_STYLES = { negative: [14, 8], neutral: [4, 6], positive: [] };  // a cue besides colour
const UNSURE_WORD = "unsure";  // the label of a face the model is not sure of: it names no emotion

const ui = {
  startCamera: document.getElementById("start-camera"),
  startScreen: document.getElementById("start-screen"),
  stop: document.getElementById("stop"),
  speak: document.getElementById("speak"),
  showVideo: document.getElementById("show-video"),
  textSize: document.getElementById("text-size"),
  status: document.getElementById("status"),
  error: document.getElementById("error"),
  captions: document.getElementById("captions"),
  noFaces: document.getElementById("no-faces"),
  stage: document.getElementById("stage"),
  video: document.getElementById("video"),
  overlay: document.getElementById("overlay"),
  history: document.getElementById("history"),
};

// Readable state for people debugging the page and for the browser test.
const state = {
  running: false,
  connected: false,
  framesAnswered: 0,
  lastRoundTripMs: null,
  // One entry per answered frame, oldest first, the two arrays paired index by index:
  // frame sent -> its caption painted on screen, and grab + JPEG encode before the send.
  captionLatenciesMs: [],
  encodeLatenciesMs: [],
  lastResult: null,
  closeCode: null,
  closeReason: "",
  shown: new Map(),  // face id -> caption text last announced
};
window.emocap = state;

let stream = null;
let socket = null;
let inFlight = false;
let sentAt = 0;
let encodeMs = 0;  // grab + encode of the frame in flight, kept until its answer so the two latencies pair up
let pumpTimer = null;
const grabCanvas = document.createElement("canvas");

function socketUrl() {
  const url = new URL("ws", window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

function setStatus(text) {
  ui.status.textContent = text;
}

function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = !text;
}

function setRunning(running) {
  state.running = running;
  ui.startCamera.disabled = running;
  ui.startScreen.disabled = running;
  ui.stop.disabled = !running;
}

async function start(getStream, sourceName) {
  showError("");
  try {
    stream = await getStream();
  } catch (error) {
    const refused = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
    showError(refused
      ? `The browser was not allowed to use the ${sourceName}. Allow it in the address bar and try again.`
      : `Could not open the ${sourceName}: ${error && error.message ? error.message : error}`);
    return;
  }
  setRunning(true);
  ui.video.srcObject = stream;
  stream.getVideoTracks().forEach((track) => track.addEventListener("ended", stop));
  await ui.video.play().catch(() => {});
  openSocket(sourceName);
  ui.stop.focus();
}

function openSocket(sourceName) {
  setStatus(`Connecting to the emocap server for the ${sourceName}…`);
  socket = new WebSocket(socketUrl());
  socket.binaryType = "arraybuffer";
  socket.addEventListener("open", () => {
    state.connected = true;
    setStatus(`Captioning the ${sourceName}.`);
    schedulePump(0);
  });
  socket.addEventListener("message", (event) => {
    inFlight = false;
    state.lastRoundTripMs = performance.now() - sentAt;
    state.framesAnswered += 1;
    render(JSON.parse(event.data));
    // Measured when the caption is on screen, not when render() returns: a requestAnimationFrame
    // callback runs just before the next paint, and a task queued from it runs just after that paint.
    const frameSentAt = sentAt, frameEncodeMs = encodeMs;
    requestAnimationFrame(() => setTimeout(() => {
      keepLatest(state.captionLatenciesMs, performance.now() - frameSentAt);
      keepLatest(state.encodeLatenciesMs, frameEncodeMs);
    }, 0));
    schedulePump(Math.max(0, MIN_FRAME_INTERVAL_MS - state.lastRoundTripMs));
  });
  socket.addEventListener("close", (event) => {
    state.connected = false;
    state.closeCode = event.code;
    state.closeReason = event.reason;
    inFlight = false;
    if (state.running) {
      showError(`The connection to the emocap server closed (code ${event.code}${event.reason ? ": " + event.reason : ""}). Is "emocap serve" still running?`);
      stop();
    }
  });
}

function keepLatest(values, value) {
  values.push(value);
  if (values.length > LATENCY_LIMIT) values.shift();
}

function schedulePump(delayMs) {
  clearTimeout(pumpTimer);
  pumpTimer = setTimeout(sendFrame, delayMs);
}

function sendFrame() {
  if (!state.running || inFlight || !socket || socket.readyState !== WebSocket.OPEN) return;
  const video = ui.video;
  if (video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA || !video.videoWidth) {
    schedulePump(50);
    return;
  }
  const width = Math.min(MAX_FRAME_WIDTH, video.videoWidth);
  const height = Math.round(video.videoHeight * width / video.videoWidth);
  grabCanvas.width = width;
  grabCanvas.height = height;
  const grabbedAt = performance.now();
  grabCanvas.getContext("2d").drawImage(video, 0, 0, width, height);
  inFlight = true;
  grabCanvas.toBlob((blob) => {
    if (!blob || !socket || socket.readyState !== WebSocket.OPEN) {
      inFlight = false;
      return;
    }
    sentAt = performance.now();
    encodeMs = sentAt - grabbedAt;
    socket.send(blob);
  }, "image/jpeg", JPEG_QUALITY);
}

function stop() {
  setRunning(false);
  clearTimeout(pumpTimer);
  if (socket) {
    socket.close(1000, "stopped by the user");
    socket = null;
  }
  if (stream) {
    stream.getTracks().forEach((track) => track.stop());
    stream = null;
  }
  ui.video.srcObject = null;
  ui.overlay.getContext("2d").clearRect(0, 0, ui.overlay.width, ui.overlay.height);
  if (!ui.error.textContent) setStatus("Stopped.");
}

// Black or white, whichever reads better on the valence colour (WCAG relative luminance).
function textColourOn(hex) {
  const channels = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  const luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
  return (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) ? "#000000" : "#ffffff";
}

function captionItem(face) {
  const item = document.createElement("li");
  item.className = face.label ? "caption" : "caption pending";
  if (face.label === UNSURE_WORD) item.classList.add("unsure");
  item.dataset.faceId = face.face;
  item.dataset.label = face.label || "";
  if (face.colour) {
    item.style.setProperty("--colour", face.colour);
    item.style.setProperty("--on-colour", textColourOn(face.colour));
  }
  const name = document.createElement("span");
  name.className = "face-name";
  name.textContent = `Face ${face.face}`;
  const emotion = document.createElement("strong");
  emotion.className = "emotion";
  // The server's words ("looks sad / fear", or "sad / fear" with --wording plain), as in the caption.
  emotion.textContent = face.emotion_words || "reading…";
  item.append(name, emotion);
  if (face.valence) {
    const valence = document.createElement("span");
    valence.className = "valence";
    valence.textContent = face.valence;
    item.append(valence);
  }
  return item;
}

// What "unsure" looks like: the server's look.css, the one definition the overlay and the report draw too.
function unsureLook() {
  const style = getComputedStyle(document.documentElement);
  return {
    ink: style.getPropertyValue("--unsure-ink").trim(),
    ground: style.getPropertyValue("--unsure-ground").trim(),
  };
}

function drawBoxes(result) {
  const canvas = ui.overlay;
  canvas.width = result.size.width;
  canvas.height = result.size.height;
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, canvas.width, canvas.height);
  const lineWidth = Math.max(3, canvas.width / 160);
  const fontSize = Math.max(16, canvas.width / 28);
  context.font = `bold ${fontSize}px system-ui, sans-serif`;
  context.textBaseline = "bottom";
  const unsure = unsureLook();
  for (const face of result.faces) {
    const [x1, y1, x2, y2] = face.box;
    const isUnsure = face.label === UNSURE_WORD;
    const colour = isUnsure ? unsure.ground : face.colour || "#ffffff";
    context.lineWidth = lineWidth;
    context.setLineDash(isUnsure ? [] : (LINE_STYLES[face.valence] || [2, 4]).map((n) => n * lineWidth / 3));
    context.strokeStyle = colour;
    context.strokeRect(x1, y1, x2 - x1, y2 - y1);
    if (isUnsure) {  // the ground's line dashed with ink: two colours, no emotion's
      context.setLineDash([3 * lineWidth, 3 * lineWidth]);
      context.strokeStyle = unsure.ink;
      context.strokeRect(x1, y1, x2 - x1, y2 - y1);
    }
    context.setLineDash([]);
    // The server's caption: the same words as the subtitles and the records of this face.
    const text = face.label ? face.caption : `${face.caption}: reading…`;
    const chipWidth = context.measureText(text).width + fontSize * 0.6;
    const chipLeft = Math.max(0, Math.min(x1 - lineWidth / 2, canvas.width - chipWidth));
    const chipTop = Math.max(0, y1 - fontSize * 1.3);
    context.fillStyle = colour;
    context.fillRect(chipLeft, chipTop, chipWidth, fontSize * 1.3);
    if (isUnsure) {  // outlined, as the overlay draws it
      context.lineWidth = Math.max(2, lineWidth / 2);
      context.strokeStyle = unsure.ink;
      context.strokeRect(chipLeft, chipTop, chipWidth, fontSize * 1.3);
    }
    context.fillStyle = isUnsure ? unsure.ink : textColourOn(colour);
    context.fillText(text, chipLeft + fontSize * 0.3, chipTop + fontSize * 1.2);
  }
}

function timeStamp() {
  const stamp = document.createElement("time");
  const now = new Date();
  stamp.dateTime = now.toISOString();
  stamp.textContent = now.toLocaleTimeString();
  return stamp;
}

function announce(face) {
  const text = face.caption;
  if (!face.label || state.shown.get(face.face) === text) return;
  state.shown.set(face.face, text);
  const entry = document.createElement("li");
  entry.append(timeStamp(), text);
  ui.history.append(entry);
  while (ui.history.children.length > HISTORY_LIMIT) ui.history.firstElementChild.remove();
  ui.history.scrollTop = ui.history.scrollHeight;
  if (ui.speak.checked && "speechSynthesis" in window) {
    window.speechSynthesis.cancel();  // say the newest caption, not a backlog
    window.speechSynthesis.speak(new SpeechSynthesisUtterance(text));
  }
}

function render(result) {
  state.lastResult = result;
  ui.captions.replaceChildren(...result.faces.map(captionItem));
  ui.noFaces.hidden = result.faces.length > 0;
  drawBoxes(result);
  result.faces.forEach(announce);
  const fps = state.lastRoundTripMs ? Math.min(1000 / MIN_FRAME_INTERVAL_MS, 1000 / state.lastRoundTripMs) : 0;
  setStatus(`Captioning: ${result.faces.length} face${result.faces.length === 1 ? "" : "s"}, ` +
    `${Math.round(state.lastRoundTripMs)} ms per frame (about ${Math.round(fps)} frames a second).`);
}

ui.startCamera.addEventListener("click", () =>
  start(() => navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 } }, audio: false }), "camera"));
ui.startScreen.addEventListener("click", () =>
  start(() => navigator.mediaDevices.getDisplayMedia({ video: true, audio: false }), "shared screen"));
ui.stop.addEventListener("click", () => {
  showError("");
  stop();
  ui.startCamera.focus();
});
ui.showVideo.addEventListener("change", () => ui.stage.classList.toggle("hide-video", !ui.showVideo.checked));
ui.textSize.addEventListener("change", () =>
  document.documentElement.style.setProperty("--caption-scale", ui.textSize.value));
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && state.running) ui.stop.click();
});
if (!navigator.mediaDevices) {
  showError("This page must be opened as http://localhost or http://127.0.0.1 (or over https) for the browser to allow the camera.");
  ui.startCamera.disabled = true;
  ui.startScreen.disabled = true;
}
