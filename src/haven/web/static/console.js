// Haven console: live updates over a WebSocket, with the server rendering every fragment.
// Notices carry ids only; content always comes from permission-checked, server-escaped pages.
(function () {
  "use strict";
  const body = document.body;
  const mode = body.dataset.live;
  const status = document.getElementById("live-status");

  async function refresh(url, targetId) {
    const target = document.getElementById(targetId);
    if (!target) return;
    const response = await fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } });
    if (response.redirected || response.status === 401) { window.location.assign("/login"); return; }
    if (response.ok) target.innerHTML = await response.text();
  }

  let pending = null;
  function scheduleRefresh() {
    if (pending) return;
    pending = setTimeout(function () {
      pending = null;
      if (mode === "inbox") refresh(body.dataset.rowsUrl, "inbox-rows");
      if (mode === "conversation") refresh(body.dataset.timelineUrl, "timeline");
    }, 100);
  }

  function refreshAlerts() {
    const banner = document.getElementById("alert-banner");
    if (banner) refresh(banner.dataset.url, "alert-banner");
  }

  function onEvent(event) {
    if (event.type === "hello") { scheduleRefresh(); refreshAlerts(); return; }
    if (event.type === "alert.changed") { refreshAlerts(); return; }
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
    const socket = new WebSocket(scheme + "//" + window.location.host + "/ws/console");
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
