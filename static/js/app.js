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
    if (!d || !d.contains(event.detail.target)) return;
    if (!d.open) d.showModal();
    focusFirstField(d);
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
})();
