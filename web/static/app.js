// pi-crm's own script: small behaviours htmx does not cover. Loaded from
// /static (the CSP allows no inline script).
document.addEventListener("change", function (e) {
  var all = e.target.closest("[data-select-all]");
  if (!all) return;
  var form = all.closest("form");
  form.querySelectorAll('input[type=checkbox][name=id]').forEach(function (c) { c.checked = all.checked; });
});
