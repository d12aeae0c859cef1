// Haven secure chat, the customer's side. Every text is put in the page with textContent, never as
// HTML. Messages not yet acknowledged by the server stay in `pending` and are sent again (with the
// same client id, so the server stores them once) after a reconnect; `lastSeq` lets the server send
// exactly the events this page has not seen.
(function () {
  "use strict";
  const body = document.body;
  const chatId = body.dataset.chatId;
  const csrf = body.dataset.csrf;
  const log = document.getElementById("chat-log");
  const typing = document.getElementById("chat-typing");
  const errorBox = document.getElementById("chat-error");
  const composer = document.getElementById("chat-composer");
  const input = document.getElementById("chat-text");
  const connection = document.getElementById("chat-connection");
  let lastSeq = 0;
  let socket = null;
  let delay = 500;
  let ended = composer.hidden;
  let typingTimer = null;
  let lastTypingSent = 0;
  const pending = new Map();

  function newId() {
    const raw = window.crypto && crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
    return raw.replace(/[^A-Za-z0-9_-]/g, "").slice(0, 64);
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function addMessage(event) {
    const mine = event.side === "customer";
    const item = element("li", "message " + (mine ? "outbound" : "inbound") + " private");
    item.dataset.seq = event.seq;
    const bubble = element("div", "bubble");
    const head = element("div", "message-head");
    head.appendChild(element("span", "author", mine ? "You" : (event.author || "The bank")));
    head.appendChild(element("time", "", new Date(event.at).toLocaleTimeString()));
    bubble.appendChild(head);
    bubble.appendChild(element("p", "text", event.text));
    item.appendChild(bubble);
    log.appendChild(item);
  }

  function addForm(event) {
    const form = event.form;
    const item = element("li", "message inbound secure-form");
    item.id = "form-" + form.id;
    const bubble = element("div", "bubble");
    bubble.appendChild(element("p", "author", "The bank asks for these details (sent encrypted, never posted):"));
    if (form.status !== "requested") {
      bubble.appendChild(element("p", "form-sent", "Sent securely ✓"));
      item.appendChild(bubble);
      log.appendChild(item);
      return;
    }
    const node = element("form", "stack");
    form.fields.forEach(function (field) {
      const label = element("label", "", field.label + " ");
      const multiline = field.input_type === "textarea";
      const control = element(multiline ? "textarea" : "input");
      control.name = field.kind;
      if (!multiline) control.type = field.input_type;
      control.maxLength = field.max_length;
      control.required = true;
      control.autocomplete = "off";
      control.id = "field-" + form.id + "-" + field.kind;
      label.appendChild(control);
      if (field.hint) label.appendChild(element("small", "hint", field.hint));
      node.appendChild(label);
    });
    const problem = element("p", "error");
    problem.hidden = true;
    const send = element("button", "primary", "Send securely");
    send.type = "submit";
    send.id = "form-send-" + form.id;
    node.appendChild(problem);
    node.appendChild(send);
    node.addEventListener("submit", async function (submitEvent) {
      submitEvent.preventDefault();
      send.disabled = true;
      const data = new FormData(node);
      const response = await fetch("/chat/forms/" + form.id, {
        method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRF-Token": csrf },
      });
      if (response.ok) {
        node.replaceWith(element("p", "form-sent", "Sent securely ✓"));
        return;
      }
      let detail = "The details could not be sent.";
      try { detail = (await response.json()).detail || detail; } catch (err) { /* keep the default */ }
      problem.textContent = detail;
      problem.hidden = false;
      send.disabled = false;
    });
    bubble.appendChild(node);
    item.appendChild(bubble);
    log.appendChild(item);
  }

  function markFormSent(event) {
    const item = document.getElementById("form-" + event.form.id);
    const node = item && item.querySelector("form");
    if (node) node.replaceWith(element("p", "form-sent", "Sent securely ✓"));
  }

  function showEnded(rated) {
    ended = true;
    composer.hidden = true;
    document.getElementById("chat-ended").hidden = false;
    if (rated) {
      document.getElementById("rating-form").hidden = true;
      document.getElementById("rating-thanks").hidden = false;
    }
  }

  function onEvent(event) {
    if (event.seq <= lastSeq) return;
    lastSeq = event.seq;
    if (event.client_id) pending.delete(event.client_id);
    if (event.kind === "message") addMessage(event);
    else if (event.kind === "form_requested") addForm(event);
    else if (event.kind === "form_submitted") markFormSent(event);
    else if (event.kind === "ended") showEnded(false);
    else if (event.kind === "rated") showEnded(true);
    typing.hidden = true;
    log.lastElementChild && log.lastElementChild.scrollIntoView({ block: "end" });
  }

  function onMessage(message) {
    if (message.type === "event") onEvent(message);
    else if (message.type === "typing") {
      typing.textContent = "The bank is typing…";
      typing.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { typing.hidden = true; }, 4000);
    } else if (message.type === "error") {
      if (message.client_id) pending.delete(message.client_id);
      showError(message.detail);
    }
  }

  function send(payload) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(payload));
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const url = scheme + "//" + window.location.host + "/chat/ws?chat=" + encodeURIComponent(chatId) + "&after=" + lastSeq;
    socket = new WebSocket(url);
    socket.addEventListener("open", function () {
      delay = 500;
      connection.classList.add("up");
      connection.title = "Connected";
      pending.forEach(function (text, id) { send({ type: "message", text: text, client_id: id }); });
    });
    socket.addEventListener("message", function (message) {
      try { onMessage(JSON.parse(message.data)); } catch (err) { /* ignore a malformed frame */ }
    });
    socket.addEventListener("close", function () {
      connection.classList.remove("up");
      connection.title = "Reconnecting…";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    });
  }

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || ended) return;
    const id = newId();
    pending.set(id, text);
    send({ type: "message", text: text, client_id: id });
    input.value = "";
    showError("");
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); composer.requestSubmit(); }
  });
  input.addEventListener("input", function () {
    const now = Date.now();
    if (now - lastTypingSent > 2000) { lastTypingSent = now; send({ type: "typing" }); }
  });
  connect();
})();
