// Behaviour the panel's markup asks for with data- attributes. The Content-Security-Policy
// allows no inline script, so no onclick="..." attribute would run.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target.closest("a, button, input");
    if (!target) { return; }
    if (target.matches("a[href='#']")) { event.preventDefault(); }
    var action = target.getAttribute("data-model-action");
    if (action && window.modelActions) {
      event.preventDefault();
      window.modelActions.execute(action);
      return;
    }
    var question = target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    var group = target.getAttribute("data-check-all");
    if (group) {
      document.querySelectorAll("input[name='" + group + "']").forEach(function (box) {
        box.checked = target.checked;
      });
    }
    var inline = target.getAttribute("data-inline-add");
    if (inline && window.faForm) {
      event.preventDefault();
      window.faForm.addInlineField(target, inline);
    }
  }, true);  // capture: before Bootstrap's handlers, which may stop the click from bubbling
})();
