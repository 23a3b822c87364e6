// The one dialog of the settings pages: htmx loads a form into it, this opens it as a modal
// (the browser then keeps focus inside and closes it on Escape), closes it after a save, and
// gives focus back to what opened it. Without JavaScript the same links are plain pages.
(function () {
  "use strict";

  let opener = null;

  function dialog() {
    return document.getElementById("app-dialog");
  }

  function focusFirstField(container) {
    const target =
      container.querySelector('[aria-invalid="true"]') ||
      container.querySelector("input:not([type=hidden]):not([type=radio]), input[type=radio]:checked, button, a[href]");
    if (target) target.focus();
  }

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

  document.addEventListener("registries:changed", function () {
    const d = dialog();
    if (d && d.open) d.close();
  });

  document.addEventListener("click", function (event) {
    const closer = event.target.closest("[data-dialog-close]");
    const d = closer && closer.closest("dialog");
    if (d) {
      event.preventDefault();
      d.close();
    }
  });

  document.addEventListener(
    "close",
    function (event) {
      if (event.target !== dialog()) return;
      event.target.querySelector("#dialog-body").replaceChildren();
      // The opener may have been re-rendered with the table: focus its replacement if so.
      let target = opener;
      if (target && !document.contains(target) && target.id) target = document.getElementById(target.id);
      if (!target || !document.contains(target)) target = document.getElementById("new-registry");
      if (target) target.focus();
      opener = null;
    },
    true,
  );

  // Test connection. Our own rate limit answers 429 (with Retry-After) and a message for the
  // result slot; htmx does not swap error answers by default, so let these through.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (event.detail.xhr.status === 429 && elt && elt.closest("[data-probe]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // A row's result outlives the table's refreshes (hx-preserve), but not a change to the
  // registries: it would describe credentials that may no longer be the stored ones.
  document.addEventListener("registries:changed", function () {
    document.querySelectorAll("#registry-table [data-probe-slot]").forEach(function (slot) {
      slot.replaceChildren();
    });
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
