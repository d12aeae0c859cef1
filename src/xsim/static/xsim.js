// xsim customer page. Tweet and DM text only ever reaches the DOM as server-escaped HTML
// (the threads and DM fragments, parsed inertly with DOMParser) or through textContent.
"use strict";

(() => {
  const REFRESH_MS = 1500;
  const app = document.getElementById("app");
  const user = app.dataset.user;
  const brand = app.dataset.brand;
  const maxLength = Number(app.dataset.maxLength);
  const errorBox = document.getElementById("error");

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function problemMessage(body, status) {
    const first = Array.isArray(body.errors) ? body.errors[0] : null;
    return (first && first.message) || body.detail || body.title || `Request failed (${status})`;
  }

  function caretToEnd(textarea) {
    textarea.setSelectionRange(textarea.value.length, textarea.value.length);
  }

  async function postJSON(url, payload) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(problemMessage(body, response.status));
    return body;
  }

  // -- identity --------------------------------------------------------------------------
  const userSelect = document.getElementById("user-select");
  userSelect.addEventListener("change", () => userSelect.form.submit());

  document.getElementById("new-user-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const username = document.getElementById("new-user-name").value.trim();
    const name = document.getElementById("new-user-display-name").value.trim();
    try {
      await postJSON("/_sim/users", name ? { username, name } : { username });
      window.location.assign(`/?user=${encodeURIComponent(username)}`);
    } catch (error) {
      showError(error.message);
    }
  });

  if (!user) return;

  // -- threads and DMs --------------------------------------------------------------------
  // Each polls its server-rendered fragment and swaps it in when it has changed.
  function fragmentRefresher(path, container) {
    let lastFragment = null;
    return async function refresh() {
      try {
        const response = await fetch(`${path}?user=${encodeURIComponent(user)}`, {
          cache: "no-store",
        });
        if (!response.ok) return;
        const fragment = await response.text();
        if (fragment === lastFragment) return;
        lastFragment = fragment;
        const parsed = new DOMParser().parseFromString(fragment, "text/html");
        container.replaceChildren(...parsed.body.childNodes);
      } catch {
        // Offline for a moment: the next tick tries again.
      }
    };
  }
  const threads = document.getElementById("threads");
  const refreshThreads = fragmentRefresher("/ui/threads", threads);
  setInterval(refreshThreads, REFRESH_MS);
  const refreshDms = fragmentRefresher("/ui/dms", document.getElementById("dms"));
  setInterval(refreshDms, REFRESH_MS);

  // -- compose ---------------------------------------------------------------------------
  const composeText = document.getElementById("compose-text");
  const composeCount = document.getElementById("compose-count");
  const prefill = `@${brand} `;

  function updateCount() {
    const left = maxLength - [...composeText.value.normalize("NFC")].length;
    composeCount.textContent = String(left);
    composeCount.classList.toggle("over", left < 0);
  }
  composeText.addEventListener("input", updateCount);
  caretToEnd(composeText); // typing continues after the "@brand " prefill
  updateCount();

  document.getElementById("compose-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await postJSON("/ui/tweet", { username: user, text: composeText.value });
      composeText.value = prefill;
      updateCount();
      showError("");
      await refreshThreads();
    } catch (error) {
      showError(error.message);
    }
  });

  // -- replies ---------------------------------------------------------------------------
  const replyBox = document.getElementById("reply-box");
  const replyText = document.getElementById("reply-text");
  let replyTo = null;

  threads.addEventListener("click", (event) => {
    const button = event.target.closest(".reply-button");
    if (!button) return;
    const author = button.dataset.replyAuthor;
    const tweet = button.closest(".tweet");
    replyTo = button.dataset.replyTo;
    document.getElementById("reply-target").textContent = `@${author}`;
    document.getElementById("reply-quote").textContent =
      tweet.querySelector(":scope > .tweet-body > .text").textContent;
    replyText.value = author === user ? "" : `@${author} `;
    replyBox.hidden = false;
    replyText.focus();
    caretToEnd(replyText);
  });

  document.getElementById("reply-cancel").addEventListener("click", () => {
    replyBox.hidden = true;
    replyTo = null;
  });

  document.getElementById("reply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await postJSON("/ui/tweet", {
        username: user,
        text: replyText.value,
        in_reply_to_tweet_id: replyTo,
      });
      replyBox.hidden = true;
      replyTo = null;
      showError("");
      await refreshThreads();
    } catch (error) {
      showError(error.message);
    }
  });

  // -- direct messages -------------------------------------------------------------------
  const dmText = document.getElementById("dm-text");
  const dmCount = document.getElementById("dm-count");
  const maxDmLength = Number(document.getElementById("dm").dataset.maxDmLength);

  function updateDmCount() {
    const left = maxDmLength - [...dmText.value.normalize("NFC")].length;
    dmCount.textContent = String(left);
    dmCount.classList.toggle("over", left < 0);
  }
  dmText.addEventListener("input", updateDmCount);
  updateDmCount();

  document.getElementById("dm-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await postJSON("/ui/dm", { username: user, text: dmText.value });
      dmText.value = "";
      updateDmCount();
      showError("");
      await refreshDms();
    } catch (error) {
      showError(error.message);
    }
  });
})();
