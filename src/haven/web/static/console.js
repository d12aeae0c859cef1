// Haven console: live updates over a WebSocket, with the server rendering every fragment.
// Notices carry ids only; content always comes from permission-checked, server-escaped pages.
// The few things written here (presence names, SLA countdowns, a picked template) are set as
// text (textContent, value), never as HTML.
(function () {
  "use strict";
  const body = document.body;
  const mode = body.dataset.live;
  const status = document.getElementById("live-status");
  const conversationId = Number(body.dataset.conversationId || 0);
  let socket = null;

  async function refresh(url, targetId) {
    const target = document.getElementById(targetId);
    if (!target || !url) return;
    const response = await fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } });
    if (response.redirected || response.status === 401) { window.location.assign("/login"); return; }
    if (response.ok) {
      target.innerHTML = await response.text();
      tickSla();
    }
  }

  // The header's load ("3 / 5") changes whenever work moves; one fetch per second at most.
  let loadPending = null;
  function scheduleLoad() {
    const load = document.getElementById("agent-load");
    if (!load || loadPending) return;
    loadPending = setTimeout(function () {
      loadPending = null;
      refresh(load.dataset.url, "agent-load");
    }, 1000);
  }

  let pending = null;
  function scheduleRefresh() {
    if (pending) return;
    pending = setTimeout(function () {
      pending = null;
      if (mode === "inbox") refresh(body.dataset.rowsUrl, "inbox-rows");
      if (mode === "conversation") {
        refresh(body.dataset.timelineUrl, "timeline");
        refresh(body.dataset.triageUrl, "triage");
      }
    }, 100);
  }

  function refreshAlerts() {
    const banner = document.getElementById("alert-banner");
    if (banner) refresh(banner.dataset.url, "alert-banner");
  }

  // SLA clocks: the server renders each with its status; between refreshes the countdown runs
  // here (calendar time, as the server writes it) and turns to "breached" when the deadline passes.
  function span(minutes) {
    const whole = Math.floor(Math.abs(minutes));
    if (whole < 1) return "<1 min";
    if (whole < 60) return whole + " min";
    const hours = Math.floor(whole / 60);
    const rest = whole % 60;
    if (hours < 48) return rest ? hours + " h " + rest + " min" : hours + " h";
    const days = Math.floor(hours / 24);
    return hours % 24 ? days + " d " + (hours % 24) + " h" : days + " d";
  }
  function tickSla() {
    document.querySelectorAll("time[data-sla-live]").forEach(function (clock) {
      const due = Date.parse(clock.getAttribute("datetime") || "");
      if (Number.isNaN(due)) return;
      const left = (due - Date.now()) / 60000;
      const state = left < 0 ? "breached" : clock.dataset.slaStatus;
      if (state === "breached") clock.textContent = "breached · " + span(left) + " late";
      else if (state === "at_risk") clock.textContent = "at risk · " + span(left) + " left";
      else clock.textContent = span(left) + " left";
      const box = clock.closest(".sla");
      if (box) {
        box.classList.remove("sla-ok", "sla-at_risk", "sla-breached");
        box.classList.add("sla-" + state);
      }
    });
  }
  tickSla();
  setInterval(tickSla, 5000);
  // "At risk" is counted in business time, which only the server knows: re-read the rows now and then.
  if (mode === "inbox") setInterval(scheduleRefresh, 60000);

  // Presence (collision control): who else is viewing or typing in this conversation.
  const TYPING_SHOWN_MS = 5000;
  let presenceTtl = 30000;
  let lastTyped = 0;
  let lastTypingSent = 0;
  const presenceBox = document.getElementById("presence");
  const present = new Map();

  function sendPresence(state) {
    if (!conversationId || !socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ type: "presence", conversation_id: conversationId, state: state }));
  }
  function onPresence(event) {
    if (event.conversation_id !== conversationId || typeof event.socket !== "string") return;
    if (event.state === "left") present.delete(event.socket);
    else present.set(event.socket, {
      agent: event.agent_id, name: String(event.name), state: event.state, at: Date.now()
    });
    renderPresence();
  }
  function renderPresence() {
    if (!presenceBox) return;
    const now = Date.now();
    const agents = new Map();
    present.forEach(function (entry, key) {
      if (now - entry.at > presenceTtl) { present.delete(key); return; }
      const typing = entry.state === "typing" && now - entry.at < TYPING_SHOWN_MS;
      const seen = agents.get(entry.agent);
      agents.set(entry.agent, { name: entry.name, typing: typing || Boolean(seen && seen.typing) });
    });
    const lines = [];
    agents.forEach(function (entry) {
      const line = document.createElement("span");
      line.className = entry.typing ? "present typing" : "present";
      line.textContent = entry.name + (entry.typing ? " is typing…" : " is viewing");
      lines.push(line);
    });
    presenceBox.replaceChildren(...lines);
    presenceBox.hidden = lines.length === 0;
  }
  if (mode === "conversation" && conversationId) {
    setInterval(function () {
      sendPresence(Date.now() - lastTyped < 3000 ? "typing" : "viewing");
    }, 10000);
    setInterval(renderPresence, 1000);
    ["reply-text", "chat-text"].forEach(function (id) {
      const box = document.getElementById(id);
      if (!box) return;
      box.addEventListener("input", function () {
        lastTyped = Date.now();
        if (lastTyped - lastTypingSent > 2000) { lastTypingSent = lastTyped; sendPresence("typing"); }
      });
    });
    window.addEventListener("pagehide", function () { sendPresence("left"); });
  }

  function onEvent(event) {
    if (event.type === "hello") {
      if (event.presence_ttl) presenceTtl = Number(event.presence_ttl) * 1000;
      sendPresence("viewing");
      scheduleRefresh();
      scheduleLoad();
      refreshAlerts();
      return;
    }
    if (event.type === "presence") { onPresence(event); return; }
    if (event.type === "error") return;
    if (event.type === "alert.changed") { refreshAlerts(); return; }
    scheduleLoad();
    if (mode === "inbox") scheduleRefresh();
    if (mode === "conversation" && String(event.conversation_id) === body.dataset.conversationId) {
      // A secure chat began or ended, or was rated: the page's tools change, so reload it, unless
      // the agent is in the middle of writing.
      const drafts = ["reply-text", "chat-text"].map(function (id) {
        const box = document.getElementById(id);
        return box ? box.value.trim() : "";
      });
      if ((event.reason === "note" || event.reason === "rating") && !drafts.some(Boolean)) {
        window.location.reload();
        return;
      }
      scheduleRefresh();
    }
  }

  let delay = 500;
  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(scheme + "//" + window.location.host + "/ws/console");
    socket.addEventListener("open", function () {
      delay = 500;
      if (status) { status.classList.add("up"); status.title = "Live updates on"; }
    });
    socket.addEventListener("message", function (message) {
      try { onEvent(JSON.parse(message.data)); } catch (err) { /* ignore a malformed notice */ }
    });
    socket.addEventListener("close", function () {
      if (status) { status.classList.remove("up"); status.title = "Reconnecting…"; }
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    });
  }
  if (mode) connect();
  refreshAlerts();
  if (!mode) scheduleLoad();

  // Inbox filters apply as soon as one changes (the Apply button is there for keyboards and no
  // script); the address keeps only the filters that are set.
  const filters = document.getElementById("inbox-filters");
  if (filters) {
    filters.addEventListener("change", function () { filters.requestSubmit(); });
    filters.addEventListener("submit", function (event) {
      event.preventDefault();
      const params = new URLSearchParams();
      new FormData(filters).forEach(function (value, name) {
        if (value !== "") params.append(name, String(value));
      });
      window.location.assign(filters.getAttribute("action") + "?" + params.toString());
    });
  }

  // Composer: live character count for public replies, Ctrl/Cmd+Enter to send.
  const text = document.getElementById("reply-text");
  const count = document.getElementById("reply-count");
  const composer = document.getElementById("composer");
  function updateCount() {
    if (!text || !count || !composer) return;
    const visibility = composer.querySelector("input[name=visibility]:checked");
    const choice = visibility ? visibility.value : "";
    const length = Array.from(text.value).length;
    const limits = { public: count.dataset.limitPublic, private: count.dataset.limitPrivate };
    const limit = Number(limits[choice] || 0);
    count.textContent = limit ? length + " / " + limit : length + " characters";
    count.classList.toggle("over", limit > 0 && length > limit);
    composer.classList.toggle("is-internal", choice === "internal");
    composer.classList.toggle("is-public", choice === "public");
    composer.classList.toggle("is-private", choice === "private");
  }
  if (text && composer) {
    text.addEventListener("input", updateCount);
    composer.addEventListener("change", updateCount);
    text.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) composer.requestSubmit();
    });
    // Template picker: a suggestion's text (an attribute the server escaped) goes into the box.
    document.querySelectorAll(".template-pick").forEach(function (button) {
      button.addEventListener("click", function () {
        text.value = button.dataset.text || "";
        updateCount();
        text.focus();
      });
    });
    // One click, one message: the button stays disabled until the page reloads after the post.
    composer.addEventListener("submit", function () {
      const send = document.getElementById("reply-send");
      if (send) send.disabled = true;
    });
    updateCount();
  }

  // Live secure chat, the agent's side: the customer's page speaks the same protocol (chat.js).
  // Events only trigger a refresh of server-rendered fragments; texts are never inserted here.
  const chatId = body.dataset.chatId;
  const chatForm = document.getElementById("chat-composer");
  const chatText = document.getElementById("chat-text");
  if (chatId && chatForm && chatText) {
    const chatTyping = document.getElementById("chat-typing");
    const chatError = document.getElementById("chat-error");
    const pendingChat = new Map();
    let lastSeq = Number(body.dataset.chatSeq || 0);
    let chatSocket = null;
    let chatDelay = 500;
    let typingTimer = null;
    let lastTypingSent = 0;

    function chatSend(payload) {
      if (chatSocket && chatSocket.readyState === WebSocket.OPEN) chatSocket.send(JSON.stringify(payload));
    }
    function onChat(message) {
      if (message.type === "event") {
        if (message.seq <= lastSeq) return;
        lastSeq = message.seq;
        if (message.client_id) pendingChat.delete(message.client_id);
        if (message.kind === "ended" || message.kind === "rated") { window.location.reload(); return; }
        if (message.kind === "form_requested" || message.kind === "form_submitted") {
          refresh(body.dataset.formsUrl, "secure-forms");
        }
        if (chatTyping) chatTyping.hidden = true;
        scheduleRefresh();
      } else if (message.type === "typing" && chatTyping) {
        chatTyping.hidden = false;
        clearTimeout(typingTimer);
        typingTimer = setTimeout(function () { chatTyping.hidden = true; }, 4000);
      } else if (message.type === "error" && chatError) {
        if (message.client_id) pendingChat.delete(message.client_id);
        chatError.textContent = message.detail;
        chatError.hidden = false;
      }
    }
    function chatConnect() {
      const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      chatSocket = new WebSocket(scheme + "//" + window.location.host + "/ws/chats/" + chatId + "?after=" + lastSeq);
      chatSocket.addEventListener("open", function () {
        chatDelay = 500;
        pendingChat.forEach(function (text, id) { chatSend({ type: "message", text: text, client_id: id }); });
      });
      chatSocket.addEventListener("message", function (message) {
        try { onChat(JSON.parse(message.data)); } catch (err) { /* ignore a malformed frame */ }
      });
      chatSocket.addEventListener("close", function () {
        setTimeout(chatConnect, chatDelay);
        chatDelay = Math.min(chatDelay * 2, 15000);
      });
    }
    chatForm.addEventListener("submit", function (event) {
      event.preventDefault();
      const value = chatText.value.trim();
      if (!value) return;
      const raw = window.crypto && crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
      const id = raw.replace(/[^A-Za-z0-9_-]/g, "").slice(0, 64);
      pendingChat.set(id, value);
      chatSend({ type: "message", text: value, client_id: id });
      chatText.value = "";
      if (chatError) chatError.hidden = true;
    });
    chatText.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); chatForm.requestSubmit(); }
    });
    chatText.addEventListener("input", function () {
      const now = Date.now();
      if (now - lastTypingSent > 2000) { lastTypingSent = now; chatSend({ type: "typing" }); }
    });
    chatConnect();
  }
})();
