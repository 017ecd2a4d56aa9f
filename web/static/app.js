// pi-crm's own script: small behaviours htmx does not cover. Loaded from
// /static (the CSP allows no inline script).
document.addEventListener("change", function (e) {
  var all = e.target.closest("[data-select-all]");
  if (!all) return;
  var form = all.closest("form");
  form.querySelectorAll('input[type=checkbox][name=id]').forEach(function (c) { c.checked = all.checked; });
});

// A button with data-copy="#id" copies that element's text: the clipboard
// API where the page is a secure context (HTTPS, or localhost), else the
// text is selected for the user to copy. The label says it worked.
document.addEventListener("click", function (e) {
  var btn = e.target.closest("[data-copy]");
  if (!btn) return;
  var el = document.querySelector(btn.getAttribute("data-copy"));
  if (!el) return;
  var text = el.textContent.trim();
  var done = function () { btn.textContent = btn.getAttribute("data-copied") || "Copied"; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () { selectText(el); });
  } else {
    selectText(el);
  }
});

function selectText(el) {
  var range = document.createRange();
  range.selectNodeContents(el);
  var sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
}

// A <details data-open-wide> (the contact list's filters and bulk actions)
// starts open on a screen wider than a phone; on a phone it stays folded so
// the contacts come first.
if (window.matchMedia("(min-width: 640px)").matches) {
  document.querySelectorAll("details[data-open-wide]").forEach(function (d) { d.open = true; });
}

// A button with data-chip adds its text to the field data-chip-target
// (the AI prompt box): appended on a new line, or, with data-chip-replace
// (a starter prompt), in place of what is there.
document.addEventListener("click", function (e) {
  var chip = e.target.closest("[data-chip]");
  if (!chip) return;
  var field = document.getElementById(chip.getAttribute("data-chip-target"));
  if (!field) return;
  var text = chip.getAttribute("data-chip");
  if (chip.hasAttribute("data-chip-replace") || field.value.trim() === "") {
    field.value = text;
  } else {
    field.value = field.value.replace(/\s+$/, "") + "\n" + text;
  }
  field.focus();
});

// The Email page shows the fields of the provider chosen: each block names
// its kinds in data-kinds; the server renders the saved kind's already.
function showKinds(sel) {
  document.querySelectorAll("[data-kinds]").forEach(function (el) {
    el.hidden = el.getAttribute("data-kinds").split(" ").indexOf(sel.value) < 0;
  });
}
document.addEventListener("change", function (e) {
  if (e.target.matches("select[data-kind-select]")) showKinds(e.target);
});
