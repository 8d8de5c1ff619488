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

  // Flask-Admin's calendar (form.js, after this file) names months and weekdays in moment's
  // language, which ships in English only: a Spanish reader's day fields ask for Spanish
  // (backoffice.admin.dates), the week starting on Monday.
  if (window.moment && document.querySelector("[data-role=datepicker][data-locale=es]")) {
    window.moment.locale("es", {
      months: ("enero_febrero_marzo_abril_mayo_junio_julio_agosto_septiembre_octubre_" +
               "noviembre_diciembre").split("_"),
      monthsShort: "ene_feb_mar_abr_may_jun_jul_ago_sep_oct_nov_dic".split("_"),
      weekdays: "domingo_lunes_martes_miércoles_jueves_viernes_sábado".split("_"),
      weekdaysShort: "dom_lun_mar_mié_jue_vie_sáb".split("_"),
      weekdaysMin: "do_lu_ma_mi_ju_vi_sá".split("_"),
      week: {dow: 1, doy: 4}
    });
  }

  // The same calendar rewrites its field at every key (a half-typed "09/1" became
  // "09/01/2026", then "09/01/20262"): on the panel's day fields it follows a day typed in
  // full only, and otherwise leaves the typing alone.
  function steadyDays() {
    if (!window.jQuery) { return; }
    window.jQuery("[data-role=datepicker][data-locale]").each(function () {
      var input = window.jQuery(this), picker = input.data("daterangepicker");
      if (!picker) { return; }
      input.off("keyup.daterangepicker").on("keyup.daterangepicker", function () {
        if (window.moment(input.val(), picker.format, true).isValid()) {
          picker.updateFromControl();
        }
      });
    });
  }
  if (window.jQuery) {
    window.jQuery(function ($) {
      $(steadyDays);  // queued behind form.js's own handler, which attaches the calendars
    });
  }
  // A row added to an inline list (time off) gets its calendar when added: steadied then.
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-inline-add]")) { steadyDays(); }
  });
})();
