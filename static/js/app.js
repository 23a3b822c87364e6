// The one dialog of the settings pages: htmx loads a form into it, this opens it as a modal
// (the browser then keeps focus inside), closes it after a save, and gives focus back to what
// opened it. It also puts into words every answer htmx would not show: a refused or failed
// request says what happened in the dialog or in the result slot, and the form stays as typed.
// Without JavaScript the same links are plain pages.
(function () {
  "use strict";

  let opener = null;

  function dialog() {
    return document.getElementById("app-dialog");
  }

  // The dialog's body, put back if something replaced it: the dialog must always open again.
  function dialogBody() {
    const d = dialog();
    if (!d) return null;
    let body = d.querySelector("#dialog-body");
    if (!body) {
      d.replaceChildren();
      body = document.createElement("div");
      body.id = "dialog-body";
      d.appendChild(body);
    }
    return body;
  }

  function registryForm() {
    const d = dialog();
    return d && d.querySelector("#registry-form");
  }

  function focusFirstField(container) {
    const target =
      container.querySelector('[aria-invalid="true"]') ||
      container.querySelector("input:not([type=hidden]):not([type=radio]), input[type=radio]:checked, button, a[href]");
    if (target) target.focus();
  }

  // --- CSRF -----------------------------------------------------------------------------------
  // Logging in (in another tab, after the session expired) gives a new CSRF token: send the
  // current one from the cookie, not the one this page was rendered with.
  function csrfCookie() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : null;
  }

  document.addEventListener("htmx:configRequest", function (event) {
    const token = csrfCookie();
    if (!token) return;
    event.detail.headers["X-CSRFToken"] = token;
    if (event.detail.parameters.csrfmiddlewaretoken !== undefined) {
      event.detail.parameters.csrfmiddlewaretoken = token;
    }
  });

  // --- Opening, closing, focus ----------------------------------------------------------------

  document.addEventListener("htmx:beforeRequest", function (event) {
    const d = dialog();
    if (d && !d.open && event.detail.target && d.contains(event.detail.target)) {
      opener = event.detail.elt;
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    const d = dialog();
    const body = d && d.querySelector("#dialog-body");
    // A form loaded into the dialog's body, or the form re-rendered in place with its errors;
    // event.target is the new content (event.detail.target is the replaced form, already gone).
    // Smaller swaps inside the form, like the address hints, leave focus where the user types.
    if (!body || (event.target !== body && event.target.parentElement !== body)) return;
    const form = body.querySelector("#registry-form");
    if (form) {
      form.dataset.snapshot = serialize(form);
      form.querySelectorAll("[data-max-chars]").forEach(updateCounter);
    }
    if (!d.open) d.showModal();
    focusFirstField(d);
  });

  // A modal dialog makes the page inert, but Tab past its last control leaves for the browser's
  // own UI; wrap around instead, so keyboard users stay in the form they are filling in.
  document.addEventListener("keydown", function (event) {
    const d = dialog();
    if (event.key !== "Tab" || !d || !d.open) return;
    const focusable = Array.from(
      d.querySelectorAll("a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), summary"),
    ).filter(function (el) {
      return el.getClientRects().length > 0;
    });
    if (!focusable.length) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      last.focus();
      event.preventDefault();
    } else if (!event.shiftKey && document.activeElement === last) {
      first.focus();
      event.preventDefault();
    }
  });

  document.addEventListener(
    "close",
    function (event) {
      if (event.target !== dialog()) return;
      dialogBody().replaceChildren();
      // The opener may have been re-rendered with the table: focus its replacement if so.
      let target = opener;
      if (target && !document.contains(target) && target.id) target = document.getElementById(target.id);
      if (!target || !document.contains(target)) target = document.getElementById("new-registry");
      if (target) target.focus();
      opener = null;
    },
    true,
  );

  // --- "Discard your changes?" ----------------------------------------------------------------

  function serialize(form) {
    const data = new FormData(form);
    data.delete("csrfmiddlewaretoken");
    return new URLSearchParams(data).toString();
  }

  function isDirty(form) {
    // A form that came back with errors holds what the user typed and did not save.
    return form.hasAttribute("data-unsaved") || serialize(form) !== form.dataset.snapshot;
  }

  function discardBar() {
    const form = registryForm();
    return form && form.querySelector("[data-discard-confirm]");
  }

  let focusBeforeConfirm = null;

  // Closes the dialog, or first asks when that would throw away what was typed.
  function requestClose() {
    const d = dialog();
    const form = registryForm();
    const bar = discardBar();
    if (form && bar && isDirty(form)) {
      focusBeforeConfirm = document.activeElement;
      bar.hidden = false;
      bar.querySelector("[data-discard-keep]").focus();
      return;
    }
    d.close();
  }

  function keepEditing() {
    const bar = discardBar();
    if (!bar) return;
    bar.hidden = true;
    const back = focusBeforeConfirm && document.contains(focusBeforeConfirm) ? focusBeforeConfirm : null;
    if (back && !back.matches("[data-dialog-close]")) back.focus();
    else focusFirstField(registryForm());
  }

  // Escape: the browser would close the dialog; ask first if the form holds changes, and a
  // second Escape goes back to the form rather than throwing the changes away.
  document.addEventListener(
    "keydown",
    function (event) {
      const d = dialog();
      if (event.key !== "Escape" || !d || !d.open) return;
      const bar = discardBar();
      if (bar && !bar.hidden) {
        event.preventDefault();
        keepEditing();
      } else if (registryForm() && isDirty(registryForm())) {
        event.preventDefault();
        requestClose();
      }
    },
    true,
  );
  document.addEventListener(
    "cancel",
    function (event) {
      const form = registryForm();
      if (event.target === dialog() && form && isDirty(form)) {
        event.preventDefault();
        requestClose();
      }
    },
    true,
  );

  document.addEventListener("click", function (event) {
    const d = dialog();
    if (!d || !d.open) return;
    if (event.target.closest("[data-dialog-close]")) {
      event.preventDefault();
      requestClose();
    } else if (event.target.closest("[data-discard]")) {
      d.close();
    } else if (event.target.closest("[data-discard-keep]")) {
      keepEditing();
    }
  });

  // --- After a change -------------------------------------------------------------------------

  function refreshTable() {
    const table = document.getElementById("registry-table");
    if (!table) return;
    htmx.ajax("GET", window.location.pathname + window.location.search, {
      source: table,
      target: table,
      swap: "outerHTML",
    });
  }

  document.addEventListener("registries:changed", function (event) {
    const d = dialog();
    if (d && d.open) d.close();
    // The answer was the changed row; with a sync under way, a table that does not poll yet
    // fetches itself once, and then polls until the rows settle.
    const table = document.getElementById("registry-table");
    if (event.detail && event.detail.pending && table && !table.hasAttribute("hx-trigger")) {
      refreshTable();
    }
  });

  // A part of the page that a poll replaces keeps the details its reader opened: the same
  // <details id> comes back open (the pull-health lists under the rows and in the panel).
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    const target = event.detail.target;
    const fragment = event.detail.fragment;
    if (!target || !fragment || !fragment.querySelectorAll) return;
    const open = Array.from(target.querySelectorAll("details[id][open]")).map(function (d) {
      return d.id;
    });
    if (target.matches("details[id][open]")) open.push(target.id);
    fragment.querySelectorAll("details[id]").forEach(function (d) {
      if (open.indexOf(d.id) !== -1) d.open = true;
    });
  });

  // An answer for a part of the page that is gone (the row someone else just deleted, the
  // table that was empty): show the current table instead.
  document.addEventListener("htmx:targetError", function () {
    refreshTable();
  });

  // --- Test connection ------------------------------------------------------------------------

  // Our own rate limit answers 429 (with Retry-After) and a message for the result slot;
  // htmx does not swap error answers by default, so let these through.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (event.detail.xhr.status === 429 && elt && elt.closest("[data-probe]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  function clearDialogResult() {
    const slot = document.getElementById("probe-result");
    if (slot && slot.firstElementChild) slot.replaceChildren();
  }

  // A result describes the values it tested: once a field changes, it no longer applies.
  document.addEventListener("input", function (event) {
    const form = event.target.closest && event.target.closest("#registry-form");
    if (!form) return;
    clearDialogResult();
    if (event.target.matches("[data-max-chars]")) updateCounter(event.target);
  });
  document.addEventListener("change", function (event) {
    if (event.target.closest && event.target.closest("#registry-form")) clearDialogResult();
  });

  // A row's result, below the row, goes away with its close button.
  document.addEventListener("click", function (event) {
    const dismiss = event.target.closest("[data-probe-dismiss]");
    if (!dismiss) return;
    const slot = dismiss.closest("[data-probe-slot]");
    const group = slot && slot.closest("tbody");
    if (slot) slot.replaceChildren();
    const button = group && group.querySelector(".row-test button");
    if (button) button.focus();
  });

  // --- Character counts -----------------------------------------------------------------------
  // Fields have no maxlength (it cuts a paste short without a word): near and past the limit
  // they count instead, and the server refuses what is too long.
  function updateCounter(input) {
    const max = Number(input.dataset.maxChars);
    const id = input.id + "_count";
    let counter = document.getElementById(id);
    const length = input.value.length;
    if (length < max * 0.8) {
      if (counter) counter.remove();
      return;
    }
    if (!counter) {
      counter = document.createElement("p");
      counter.id = id;
      counter.className = "char-count";
      counter.setAttribute("aria-live", "polite");
      input.insertAdjacentElement("afterend", counter);
    }
    const over = length - max;
    counter.classList.toggle("char-count-over", over > 0);
    counter.textContent =
      over > 0 ? length + " of " + max + " characters: " + over + " too many." : length + " of " + max + " characters.";
  }

  // --- Refusals and failures, in words --------------------------------------------------------

  // Where the answer to a request from `elt` would have gone, and what the user was doing.
  function errorPlace(elt) {
    if (!elt || !elt.closest) return null;
    const d = dialog();
    const probe = elt.closest("[data-probe]");
    if (probe) {
      const slot = document.querySelector(probe.getAttribute("hx-target"));
      return slot ? { slot: slot, verb: "test", probe: true } : null;
    }
    if (d && d.contains(elt)) {
      if (elt.closest("#registry-hints")) return null; // advice only: the form works without it
      const form = elt.closest("form");
      const slot = form && form.querySelector("[data-request-error-slot]");
      if (!slot) return null;
      const verb = form.classList.contains("delete-form") ? "delete" : elt.matches("form") ? "save" : "load";
      return { slot: slot, verb: verb };
    }
    if (elt.getAttribute("hx-target") === "#dialog-body") return { slot: null, verb: "open", opensDialog: true };
    return null;
  }

  // Only the words of our own answers are used, never a foreign page's markup.
  function serverWords(responseText) {
    if (!responseText) return null;
    const doc = new DOMParser().parseFromString(responseText, "text/html");
    const fragment = doc.querySelector("[data-request-error]");
    if (!fragment) return null;
    const title = fragment.querySelector(".request-error-title");
    const detail = fragment.querySelector(".request-error-detail");
    return { title: title ? title.textContent.trim() : "", detail: detail ? detail.textContent.trim() : "" };
  }

  function words(status, verb, responseText) {
    const again = verb === "open" ? "try again" : verb + " again";
    if (status === 0) {
      return { title: "Could not " + verb + ", try again.", detail: "The server did not answer: check your connection." };
    }
    if (status === 401) {
      return { title: "Your session expired: ", login: true, after: ", then " + again + "." };
    }
    const ours = status === 400 || status === 403 || status === 404 ? serverWords(responseText) : null;
    if (ours) return ours;
    if (status === 403) return { title: "Your role does not allow this.", detail: "Reload the page to see what your role allows." };
    if (status === 404) return { title: "This registry no longer exists.", detail: "Someone deleted it: reload the page to see the current list." };
    return { title: "Could not " + verb + ", try again.", detail: "The server answered with an error (" + status + ")." };
  }

  function errorElement(status, said) {
    const box = document.createElement("div");
    box.className = "request-error";
    box.setAttribute("role", "alert");
    box.dataset.requestError = String(status);
    const icon = document.createElement("span");
    icon.className = "request-error-icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = "!";
    const text = document.createElement("div");
    const title = document.createElement("p");
    title.className = "request-error-title";
    title.append(said.title);
    if (said.login) {
      const link = document.createElement("a");
      link.href = (dialog() && dialog().dataset.loginUrl) || "/accounts/login/";
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = "log in in another tab";
      title.append(link, said.after);
    }
    text.appendChild(title);
    if (said.detail) {
      const detail = document.createElement("p");
      detail.textContent = said.detail;
      text.appendChild(detail);
    }
    box.append(icon, text);
    return box;
  }

  function showError(elt, status, responseText) {
    const place = errorPlace(elt);
    if (!place) return false;
    const box = errorElement(status, words(status, place.verb, responseText));
    if (place.opensDialog) {
      const d = dialog();
      const body = dialogBody();
      if (!d || !body) return false;
      if (!d.open) opener = elt;
      const heading = document.createElement("h2");
      heading.id = "dialog-title";
      heading.textContent = "Could not open this";
      const actions = document.createElement("div");
      actions.className = "form-actions";
      const close = document.createElement("button");
      close.type = "button";
      close.className = "button";
      close.dataset.dialogClose = "";
      close.textContent = "Close";
      actions.appendChild(close);
      const wrapper = document.createElement("div");
      wrapper.className = "form";
      wrapper.append(heading, box, actions);
      body.replaceChildren(wrapper);
      if (!d.open) d.showModal();
      close.focus();
    } else {
      place.slot.replaceChildren(box);
      if (place.slot.scrollIntoView) place.slot.scrollIntoView({ block: "nearest" });
    }
    return true;
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    const status = event.detail.xhr.status;
    if (status < 400 || !event.detail.isError) return;
    if (showError(event.detail.requestConfig && event.detail.requestConfig.elt, status, event.detail.xhr.responseText)) {
      event.detail.shouldSwap = false;
    }
  });

  document.addEventListener("htmx:sendError", function (event) {
    showError(event.detail.elt || event.target, 0, "");
  });

  // A successful answer clears an earlier failure's words.
  document.addEventListener("htmx:beforeRequest", function (event) {
    const place = errorPlace(event.detail.elt);
    if (place && place.slot && !place.probe) place.slot.replaceChildren();
  });
})();

// Copy buttons (the status line's kubectl command). Without JavaScript, or where the
// Clipboard API is unavailable (plain HTTP), the command is selectable text instead.
(function () {
  "use strict";

  function reveal(root) {
    root.querySelectorAll("[data-copy][hidden]").forEach(function (button) {
      button.hidden = false;
    });
  }

  function selectText(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function say(button, text) {
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = text;
    setTimeout(function () {
      button.textContent = label;
    }, 2000);
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    const text = source.textContent.trim();
    if (!navigator.clipboard || !window.isSecureContext) {
      selectText(source);
      say(button, "Press Ctrl+C");
      return;
    }
    navigator.clipboard.writeText(text).then(
      function () {
        say(button, "Copied");
      },
      function () {
        selectText(source);
        say(button, "Press Ctrl+C");
      },
    );
  });

  document.addEventListener("DOMContentLoaded", function () {
    reveal(document);
  });
  document.addEventListener("htmx:load", function (event) {
    reveal(event.detail.elt);
  });
})();
